// SafeTensors: the namespace, element types and errors of the safetensors format (Hugging
// Face): u64 little-endian header length N, N bytes of JSON header, then raw little-endian
// row-major tensor bytes. Reading lives in SafeTensorsReader.swift, writing in SafeTensorsWriter.swift.
import Foundation
import Tensors

/// Reads and writes `.safetensors` files. Writing is F32 and U8; reading accepts F32, F16,
/// BF16 (converted to F32) and U8 (read as bytes, or as F32 values 0…255).
public enum SafeTensors {
    /// Element types this implementation reads, with their names in the header.
    public enum DType: String, CaseIterable, Sendable {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"
        /// Unsigned bytes: optimizer state codes (8-bit block-wise state).
        case u8 = "U8"

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .f32: return 4
            case .f16, .bf16: return 2
            case .u8: return 1
            }
        }
    }

    /// Header names of the supported dtypes, for error messages ("F32, F16, BF16").
    public static var supportedDTypeNames: String {
        DType.allCases.map(\.rawValue).joined(separator: ", ")
    }

    /// The reserved header key holding string-to-string metadata.
    public static let metadataKey = "__metadata__"

    /// IEEE 754 binary16 bits → Float, exactly (every half is a float): zeros, subnormals,
    /// infinities and NaN payloads included.
    @inline(__always)
    static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        if exponent == 0x1F {
            // Infinity (mantissa 0) or NaN (payload kept in the high mantissa bits).
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        // Normal: rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// bfloat16 bits → Float: bfloat16 is the high half of a binary32.
    @inline(__always)
    static func float(fromBFloat16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }
}

/// A problem with a safetensors file or with a request to write one. Every message names
/// the file and says what is wrong.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or mapped (missing, a directory, unreadable).
    case cannotOpen(file: String, reason: String)
    /// Fewer than the 8 bytes of the header-length field.
    case fileTooShort(file: String, byteCount: Int)
    /// The header length field points past the end of the file.
    case headerLengthExceedsFile(file: String, headerLength: UInt64, fileSize: Int)
    /// The header is not UTF-8 JSON.
    case headerNotJSON(file: String, detail: String)
    /// The header is JSON but not an object.
    case headerNotObject(file: String, found: String)
    /// A key appears twice in the header text.
    case duplicateKey(file: String, key: String)
    /// A tensor's header value is not an object.
    case entryNotObject(file: String, name: String)
    /// A tensor entry lacks "dtype", "shape" or "data_offsets".
    case missingField(file: String, name: String, field: String)
    /// A tensor entry field has the wrong JSON type.
    case fieldWrongType(file: String, name: String, field: String, expected: String)
    /// A dtype this reader does not convert.
    case unsupportedDType(file: String, name: String, dtype: String)
    /// A shape with a dimension below zero.
    case negativeDimension(file: String, name: String, shape: [Int])
    /// A shape whose byte size does not fit in an Int.
    case shapeTooLarge(file: String, name: String, shape: [Int])
    /// data_offsets with begin > end.
    case offsetsReversed(file: String, name: String, begin: Int, end: Int)
    /// data_offsets ending past the data section.
    case offsetsOutOfRange(file: String, name: String, begin: Int, end: Int, dataLength: Int)
    /// Two tensors' byte ranges share bytes.
    case overlappingRanges(file: String, name: String, begin: Int, end: Int,
                           other: String, otherBegin: Int, otherEnd: Int)
    /// The byte range length differs from element count × dtype size.
    case byteCountMismatch(file: String, name: String, shape: [Int], dtype: String,
                           expected: Int, actual: Int)
    /// "__metadata__" is not an object of strings.
    case invalidMetadata(file: String, problem: String)
    /// `tensor(named:)` asked for a name the file does not hold.
    case tensorNotFound(file: String, name: String)
    /// The writer was given a name it cannot store (duplicate or reserved).
    case invalidTensorName(file: String, name: String, reason: String)
    /// Creating, writing, syncing or renaming the output failed.
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            return "\(file): cannot open safetensors file (\(reason))"
        case let .fileTooShort(file, byteCount):
            return "\(file): file is \(byteCount) bytes, shorter than the 8-byte header length of a safetensors file"
        case let .headerLengthExceedsFile(file, headerLength, fileSize):
            return "\(file): header length field says \(headerLength) bytes but the file has only \(fileSize) bytes (\(max(fileSize - 8, 0)) after the length field); the file is truncated or not safetensors"
        case let .headerNotJSON(file, detail):
            return "\(file): safetensors header is not valid JSON (\(detail))"
        case let .headerNotObject(file, found):
            return "\(file): safetensors header must be a JSON object of tensor entries, found \(found)"
        case let .duplicateKey(file, key):
            return "\(file): header key \"\(key)\" appears more than once"
        case let .entryNotObject(file, name):
            return "\(file): entry \"\(name)\" must be an object with dtype, shape and data_offsets"
        case let .missingField(file, name, field):
            return "\(file): tensor \"\(name)\" has no \"\(field)\" (each entry needs dtype, shape and data_offsets)"
        case let .fieldWrongType(file, name, field, expected):
            return "\(file): tensor \"\(name)\": \"\(field)\" must be \(expected)"
        case let .unsupportedDType(file, name, dtype):
            return "\(file): tensor \"\(name)\" has dtype \"\(dtype)\", which is not supported (supported: \(SafeTensors.supportedDTypeNames)); convert the file to one of these"
        case let .negativeDimension(file, name, shape):
            return "\(file): tensor \"\(name)\" has a negative dimension in shape \(shape)"
        case let .shapeTooLarge(file, name, shape):
            return "\(file): tensor \"\(name)\" with shape \(shape) has more bytes than can be addressed"
        case let .offsetsReversed(file, name, begin, end):
            return "\(file): tensor \"\(name)\" has data_offsets [\(begin), \(end)] with begin after end"
        case let .offsetsOutOfRange(file, name, begin, end, dataLength):
            return "\(file): tensor \"\(name)\" has data_offsets [\(begin), \(end)] beyond the data section of \(dataLength) bytes; the file is truncated or its header is wrong"
        case let .overlappingRanges(file, name, begin, end, other, otherBegin, otherEnd):
            return "\(file): tensor \"\(name)\" bytes [\(begin), \(end)) overlap tensor \"\(other)\" bytes [\(otherBegin), \(otherEnd))"
        case let .byteCountMismatch(file, name, shape, dtype, expected, actual):
            return "\(file): tensor \"\(name)\" of shape \(shape) and dtype \(dtype) needs \(expected) bytes but data_offsets span \(actual)"
        case let .invalidMetadata(file, problem):
            return "\(file): \"\(SafeTensors.metadataKey)\" \(problem)"
        case let .tensorNotFound(file, name):
            return "\(file): no tensor named \"\(name)\""
        case let .invalidTensorName(file, name, reason):
            return "\(file): cannot write tensor \"\(name)\": \(reason)"
        case let .writeFailed(file, reason):
            return "\(file): writing safetensors failed (\(reason)); any previous file is left unchanged"
        }
    }
}
