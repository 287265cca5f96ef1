// BlockwiseQuantizer: 8-bit block-wise optimizer state (Dettmers et al., arXiv 2110.02861;
// bitsandbytes' dynamic maps and CUDA rounding; optimizers-elementwise-zo.md §8.2). Each value
// is stored as the index of the nearest of 256 codes (ties to the lower index) after
// dividing by its block's absmax; blocks are 256 consecutive values in row-major order.
// The signed map (first moments) keeps a value's sign: an index whose code has the other
// sign is moved one step towards it (the CUDA kernels' guard).
import Tensors

public enum BlockwiseQuantizer {
    /// Values per absmax block (bitsandbytes' optimizers).
    public static let blockSize = 256
    /// Tensors with fewer values keep Float32 state (bitsandbytes' min_8bit_size).
    public static let minimumCount = 4096

    public static func blocks(_ count: Int) -> Int { (count + blockSize - 1) / blockSize }

    /// The signed dynamic map: 127 negative codes, 0 at index 127, 127 positive codes, 1 at 255.
    public static let signedMap: [Float] = makeMap(signed: true)
    /// The unsigned dynamic map: 0, 254 positive codes, 1.
    public static let unsignedMap: [Float] = makeMap(signed: false)

    /// bitsandbytes' create_dynamic_map in float32: for i = 0…6, k = 2^i (signed) or 2^(i+1)
    /// (unsigned) midpoints of linspace(0.1, 1, k+1) scaled by 10^(i−6), ±, plus 0 and 1, sorted.
    static func makeMap(signed: Bool) -> [Float] {
        var data: [Float] = []
        for i in 0..<7 {
            let k = signed ? 1 << i : 1 << (i + 1)
            let steps = k + 1
            let start: Float = 0.1, end: Float = 1
            let step = (end - start) / Float(steps - 1)
            let halfway = steps / 2
            let bounds: [Float] = (0..<steps).map { j in j < halfway ? start + step * Float(j) : end - step * Float(steps - j - 1) }
            let scale = Float(pow10(i - 6))
            for j in 0..<k {
                let mean = (bounds[j] + bounds[j + 1]) / 2
                data.append(scale * mean)
                if signed { data.append(-scale * mean) }
            }
        }
        data.append(0)
        data.append(1)
        return data.sorted()
    }

    private static func pow10(_ e: Int) -> Double {
        var x = 1.0
        for _ in 0..<abs(e) { x *= 10 }
        return e < 0 ? 1 / x : x
    }

    /// Index of the code nearest to `x` in `map` (ascending), ties to the lower index.
    @inline(__always)
    public static func nearest(_ x: Float, in map: UnsafePointer<Float>) -> Int {
        nearest(x, in: map, from: 0, to: 256)
    }

    /// `nearest` when the first index with map[i] ≥ x is known to lie in lo...hi.
    @inline(__always)
    static func nearest(_ x: Float, in map: UnsafePointer<Float>, from lo: Int, to hi: Int) -> Int {
        var lo = lo, hi = hi  // first index with map[i] >= x
        while lo < hi {
            let mid = (lo + hi) >> 1
            if map[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        if lo == 0 { return 0 }
        if lo == 256 { return 255 }
        return (x - map[lo - 1]) <= (map[lo] - x) ? lo - 1 : lo
    }

    /// Search bounds per bucket of floats sharing their top 15 bits (sign, exponent, 6 mantissa
    /// bits): the first index with map[i] ≥ x is monotone in x, so for every x of a bucket it lies
    /// between its values at the bucket's two ends. Narrows the binary search to a step or two.
    static func bounds(for map: [Float]) -> [UInt16] {
        func lowerBound(_ x: Float) -> Int {
            var lo = 0, hi = 256
            while lo < hi {
                let mid = (lo + hi) >> 1
                if map[mid] < x { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        var out = [UInt16](repeating: 0, count: 2 * bucketCount)
        for b in 0..<bucketCount {
            let first = Float(bitPattern: UInt32(b) << bucketShift)
            let last = Float(bitPattern: (UInt32(b) << bucketShift) | ((1 << bucketShift) - 1))
            let ends = [first, last].map { $0.isNaN ? ($0.sign == .minus ? -Float.infinity : Float.infinity) : $0 }
            let a = lowerBound(ends[0]), c = lowerBound(ends[1])
            out[2 * b] = UInt16(min(a, c))
            out[2 * b + 1] = UInt16(max(a, c))
        }
        return out
    }

    static let bucketShift: UInt32 = 17
    static let bucketCount = 1 << (32 - 17)
    static let signedBounds = bounds(for: signedMap)
    static let unsignedBounds = bounds(for: unsignedMap)

    /// Quantizes `count` values: per block, absmax into `absmax[b]`, codes into `codes`.
    public static func quantize(_ values: UnsafePointer<Float>, count: Int, signed: Bool,
                                codes: UnsafeMutablePointer<UInt8>, absmax: UnsafeMutablePointer<Float>) {
        let src = SendablePointer(UnsafeMutablePointer(mutating: values))
        let out = SendablePointer(codes), am = SendablePointer(absmax)
        let nb = blocks(count)
        let table = signed ? signedBounds : unsignedBounds
        table.withUnsafeBufferPointer { boundsBuffer in
        (signed ? signedMap : unsignedMap).withUnsafeBufferPointer { mapBuffer in
            let map = SendablePointer(UnsafeMutablePointer(mutating: mapBuffer.baseAddress!))
            let bounds = SendablePointer(UnsafeMutablePointer(mutating: boundsBuffer.baseAddress!))
            Parallel.forRanges(nb, grain: 16) { r in
                for b in r {
                    let lo = b * blockSize, hi = min(count, lo + blockSize)
                    var a: Float = 0
                    for i in lo..<hi { a = max(a, abs(src.p[i])) }
                    am.p[b] = a
                    if a == 0 {
                        for i in lo..<hi { out.p[i] = 0 }
                        continue
                    }
                    let inv = 1 / a
                    for i in lo..<hi {
                        let x = src.p[i]
                        let normed = min(max(x * inv, -1), 1)
                        let bucket = Int(normed.bitPattern >> bucketShift)
                        var q = nearest(normed, in: map.p, from: Int(bounds.p[2 * bucket]), to: Int(bounds.p[2 * bucket + 1]))
                        if signed && x != 0 {
                            let code = map.p[q]
                            if code.sign != x.sign { q += x > 0 ? 1 : -1 }  // +0 counts as positive, as signbit does
                        }
                        out.p[i] = UInt8(q)
                    }
                }
            }
        }
        }
    }

    /// Dequantizes codes into `out`: code[q]·absmax of the block.
    public static func dequantize(codes: UnsafePointer<UInt8>, absmax: UnsafePointer<Float>, count: Int,
                                  signed: Bool, into out: UnsafeMutablePointer<Float>) {
        let src = SendablePointer(UnsafeMutablePointer(mutating: codes))
        let am = SendablePointer(UnsafeMutablePointer(mutating: absmax)), dst = SendablePointer(out)
        (signed ? signedMap : unsignedMap).withUnsafeBufferPointer { mapBuffer in
            let map = SendablePointer(UnsafeMutablePointer(mutating: mapBuffer.baseAddress!))
            Parallel.forRanges(blocks(count), grain: 16) { r in
                for b in r {
                    let lo = b * blockSize, hi = min(count, lo + blockSize)
                    let a = am.p[b]
                    for i in lo..<hi { dst.p[i] = map.p[Int(src.p[i])] * a }
                }
            }
        }
    }
}
