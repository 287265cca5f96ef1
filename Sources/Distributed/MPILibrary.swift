// MPILibrary: the part of Open MPI's C API (MPI 3.1, libmpi.so.40 of Open MPI 4.x) that
// data-parallel training uses, loaded at run time with dlopen only when the process was
// started by `mpirun`. A single-process run never loads MPI at all, so it stays exactly what
// it was, and the binary builds and runs on machines without Open MPI.
//
// Open MPI's handles are pointers: MPI_COMM_WORLD is &ompi_mpi_comm_world, MPI_FLOAT is
// &ompi_mpi_float, MPI_SUM is &ompi_mpi_op_sum (mpi.h's OMPI_PREDEFINED_GLOBAL), so they
// are the addresses of those symbols. MPI_IN_PLACE is (void *)1, MPI_STATUS_IGNORE is NULL.
#if canImport(Glibc)
import Glibc
#endif

public struct MPIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

final class MPILibrary {
    typealias Handle = UnsafeMutableRawPointer
    typealias Request = UnsafeMutablePointer<Handle?>

    let commWorld: Handle, float: Handle, double: Handle, byte: Handle, opSum: Handle, opMax: Handle

    let initialize: @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32
    let finalize: @convention(c) () -> Int32
    let commRank: @convention(c) (Handle?, UnsafeMutablePointer<Int32>?) -> Int32
    let commSize: @convention(c) (Handle?, UnsafeMutablePointer<Int32>?) -> Int32
    let iallreduce: @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle?, Handle?, Handle?, Request?) -> Int32
    let ibcast: @convention(c) (UnsafeMutableRawPointer?, Int32, Handle?, Int32, Handle?, Request?) -> Int32
    let isend: @convention(c) (UnsafeRawPointer?, Int32, Handle?, Int32, Int32, Handle?, Request?) -> Int32
    let irecv: @convention(c) (UnsafeMutableRawPointer?, Int32, Handle?, Int32, Int32, Handle?, Request?) -> Int32
    let test: @convention(c) (Request?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32
    let abort: @convention(c) (Handle?, Int32) -> Int32
    let processorName: @convention(c) (UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int32>?) -> Int32

    /// Loads libmpi (RTLD_GLOBAL: Open MPI's own plug-ins resolve their symbols against it).
    init() throws {
        var handle: UnsafeMutableRawPointer?
        var tried: [String] = []
        for name in ["libmpi.so.40", "libmpi.so"] {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
            if handle != nil { break }
            tried.append("\(name): \(String(cString: dlerror()))")
        }
        guard let lib = handle else {
            throw MPIError("this process was started by mpirun but Open MPI's library cannot be loaded (\(tried.joined(separator: "; "))); install Open MPI 4 (Debian: openmpi-bin libopenmpi-dev) on every host")
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let p = dlsym(lib, name) else { throw MPIError("Open MPI's library has no symbol \(name); swift-train needs Open MPI 4.x (libmpi.so.40)") }
            return p
        }
        func function<F>(_ name: String, as type: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: type) }
        commWorld = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        double = try symbol("ompi_mpi_double")
        byte = try symbol("ompi_mpi_byte")
        opSum = try symbol("ompi_mpi_op_sum")
        opMax = try symbol("ompi_mpi_op_max")
        initialize = try function("MPI_Init", as: type(of: initialize))
        finalize = try function("MPI_Finalize", as: type(of: finalize))
        commRank = try function("MPI_Comm_rank", as: type(of: commRank))
        commSize = try function("MPI_Comm_size", as: type(of: commSize))
        iallreduce = try function("MPI_Iallreduce", as: type(of: iallreduce))
        ibcast = try function("MPI_Ibcast", as: type(of: ibcast))
        isend = try function("MPI_Isend", as: type(of: isend))
        irecv = try function("MPI_Irecv", as: type(of: irecv))
        test = try function("MPI_Test", as: type(of: test))
        abort = try function("MPI_Abort", as: type(of: abort))
        processorName = try function("MPI_Get_processor_name", as: type(of: processorName))
    }
}
