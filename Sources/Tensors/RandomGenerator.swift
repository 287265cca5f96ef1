// RandomGenerator: one seeded, counter-based generator for everything random in a run
// (initialisation, projections, perturbations, sampling). Its whole state is (seed, counter),
// so a checkpoint stores two integers and a replay is exact. Each draw hashes the counter
// with SplitMix64's finaliser (Steele, Lea & Flood 2014); normals use Box–Muller.

public struct RandomGenerator: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var counter: UInt64

    public init(seed: UInt64, counter: UInt64 = 0) {
        self.seed = seed
        self.counter = counter
    }

    /// A generator for an independent stream, derived from this one's seed and `stream`.
    public func derived(stream: UInt64) -> RandomGenerator {
        RandomGenerator(seed: RandomGenerator.mix(seed ^ RandomGenerator.mix(stream &+ 0x632B_E59B_D9B4_E019)))
    }

    @inlinable static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        counter &+= 1
        return RandomGenerator.mix(seed &+ counter &* 0xD1B5_4A32_D192_ED03)
    }

    /// Uniform in [0, 1) with 24 random bits (exactly representable as Float).
    @inlinable public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform integer in 0..<n (n > 0), by rejection so it is unbiased.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let x = next()
            if x < limit { return Int(x % bound) }
        }
    }

    /// Fills `out` with Normal(mean, std) samples (Box–Muller, pairs of draws).
    public mutating func fillNormal(_ out: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        var i = 0
        let n = out.count
        while i < n {
            // u1 in (0, 1] so the log is finite.
            let u1 = (Double(next() >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0)
            let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
            let r = (-2 * _log(u1)).squareRoot()
            let a = 2 * Double.pi * u2
            out[i] = mean + std * Float(r * _cos(a))
            if i + 1 < n { out[i + 1] = mean + std * Float(r * _sin(a)) }
            i += 2
        }
    }
}

import Foundation
@usableFromInline func _log(_ x: Double) -> Double { Foundation.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Foundation.cos(x) }
@usableFromInline func _sin(_ x: Double) -> Double { Foundation.sin(x) }
