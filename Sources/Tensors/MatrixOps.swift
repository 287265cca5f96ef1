// MatrixOps: whole-matrix helpers outside the tape that the optimizers share: transpose,
// row and column L2 norms, and mean of squares. Row-major [rows, cols] throughout; sums are
// accumulated in Double in a fixed order, so results do not depend on the thread count.

public enum MatrixOps {
    /// out[cols, rows] = aᵀ for a[rows, cols], in 32×32 tiles (cache-friendly), rows split over threads.
    public static func transpose(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        let src = SendablePointer(UnsafeMutablePointer(mutating: a)), dst = SendablePointer(out)
        let tile = 32
        let tiles = (rows + tile - 1) / tile
        Parallel.forRanges(tiles, grain: max(1, 4096 / max(cols, 1))) { r in
            for ti in r {
                let i0 = ti * tile, i1 = min(rows, i0 + tile)
                var j0 = 0
                while j0 < cols {
                    let j1 = min(cols, j0 + tile)
                    for i in i0..<i1 {
                        for j in j0..<j1 { dst.p[j * rows + i] = src.p[i * cols + j] }
                    }
                    j0 = j1
                }
            }
        }
    }

    /// A new tensor holding the transpose of the matrix `a` [rows, cols] → [cols, rows].
    public static func transposed(_ a: Tensor) -> Tensor {
        precondition(a.shape.count == 2, "transpose of a non-matrix \(a.shape)")
        let t = Tensor(uninitializedShape: [a.shape[1], a.shape[0]])
        transpose(a.pointer, rows: a.shape[0], cols: a.shape[1], into: t.pointer)
        return t
    }

    /// ‖a[i, :]‖₂ for each row of a [rows, cols].
    public static func rowNorms(_ a: UnsafePointer<Float>, rows: Int, cols: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows)
        out.withUnsafeMutableBufferPointer { o in
            let dst = SendablePointer(o.baseAddress!), src = SendablePointer(UnsafeMutablePointer(mutating: a))
            Parallel.forRanges(rows, grain: max(1, 8192 / max(cols, 1))) { r in
                for i in r {
                    var s = 0.0
                    let row = src.p + i * cols
                    for j in 0..<cols { s += Double(row[j]) * Double(row[j]) }
                    dst.p[i] = s.squareRoot()
                }
            }
        }
        return out
    }

    /// ‖a[:, j]‖₂ for each column of a [rows, cols].
    public static func columnNorms(_ a: UnsafePointer<Float>, rows: Int, cols: Int) -> [Double] {
        var sums = [Double](repeating: 0, count: cols)
        for i in 0..<rows {
            let row = a + i * cols
            for j in 0..<cols { sums[j] += Double(row[j]) * Double(row[j]) }
        }
        return sums.map { $0.squareRoot() }
    }
}
