import XCTest
import Foundation
import GradientCheck
import Tensors

final class RotaryTests: XCTestCase {
    /// The table holds cos and sin of p·θ^(−2i/hd), computed in Double and rounded once.
    func testTableMatchesDefinition() {
        let table = RotaryTable(headDim: 20, maxPositions: 50, theta: 10000)
        for p in [0, 1, 7, 49] {
            for i in 0..<10 {
                let angle = Double(p) * pow(10000, -2 * Double(i) / 20)
                XCTAssertEqual(table.cos[p * 10 + i], Float(cos(angle)))
                XCTAssertEqual(table.sin[p * 10 + i], Float(sin(angle)))
            }
        }
    }

    /// hd = 2: a single pair with inv_freq = θ⁰ = 1, so position p turns (1, 0) by p radians.
    func testSinglePairTurnsByPositionRadians() {
        let table = RotaryTable(headDim: 2, maxPositions: 4)
        let x = Tensor(shape: [4, 2], values: [1, 0, 1, 0, 1, 0, 0, 2])  // T = 4, one head
        let y = rotary(x, table: table, batch: 1, seqLen: 4, heads: 1).array
        XCTAssertEqual(y[0], 1); XCTAssertEqual(y[1], 0)
        XCTAssertEqual(y[2], Float(cos(1.0)), accuracy: 1e-7); XCTAssertEqual(y[3], Float(sin(1.0)), accuracy: 1e-7)
        XCTAssertEqual(y[4], Float(cos(2.0)), accuracy: 1e-7); XCTAssertEqual(y[5], Float(sin(2.0)), accuracy: 1e-7)
        // (0, 2) at p = 3: (−2 sin 3, 2 cos 3)
        XCTAssertEqual(y[6], Float(-2 * sin(3.0)), accuracy: 2e-7); XCTAssertEqual(y[7], Float(2 * cos(3.0)), accuracy: 2e-7)
    }

    /// Position 0 is the identity (cos 1, sin 0, exactly); every pair (x_i, x_{i+hd/2}) keeps
    /// its length. B = 2, T = 7, H = 3, hd = 20 (10 pairs: one SIMD vector and a tail of 2).
    /// Float32 rotation rounds each coordinate to ≈ 1e-7 relative, so lengths agree to 1e-6.
    func testPositionZeroIsIdentityAndPairNormsArePreserved() {
        let (b, t, h, hd) = (2, 7, 3, 20)
        let table = RotaryTable(headDim: hd, maxPositions: 16)
        let x = randomInput([b * t, h * hd], seed: 51)
        let y = rotary(x, table: table, batch: b, seqLen: t, heads: h)
        let width = h * hd
        for row in 0..<(b * t) {
            for head in 0..<h {
                for i in 0..<(hd / 2) {
                    let a = row * width + head * hd + i, c = a + hd / 2
                    if row % t == 0 {
                        XCTAssertEqual(y[a], x[a]); XCTAssertEqual(y[c], x[c])
                    }
                    let before = (x[a] * x[a] + x[c] * x[c]).squareRoot()
                    let after = (y[a] * y[a] + y[c] * y[c]).squareRoot()
                    XCTAssertEqual(after, before, accuracy: 1e-6 * max(before, 1e-3))
                }
            }
        }
    }

    /// The rotation is orthogonal, so back-propagating y = Rx as the seed returns Rᵀy = x.
    func testBackwardIsTheInverseRotation() {
        let table = RotaryTable(headDim: 16, maxPositions: 64)
        let x = randomInput([2 * 33, 4 * 16], seed: 52)
        let (y, tape) = Tape.record { rotary(x, table: table, batch: 2, seqLen: 33, heads: 4) }
        tape.backward(from: y, seed: y.clone())
        for i in 0..<x.count { XCTAssertEqual(x.grad![i], x[i], accuracy: 1e-5 * max(1, abs(x[i]))) }
    }
}

final class RotaryGradTests: XCTestCase {
    /// Rotary is linear in x, so central differences are exact up to Float32 rounding of the
    /// O(10) loss (≈ 1e-4 relative); 1e-3 bounds it and a wrong sign of sin gives O(1).
    /// B = 2, T = 5 (not a power of two), H = 3 heads of 20.
    func testBackwardMatchesFiniteDifferences() {
        let table = RotaryTable(headDim: 20, maxPositions: 8, theta: 500)
        let x = randomInput([2 * 5, 3 * 20], seed: 53)
        let result = gradCheck([x]) { rotary($0[0], table: table, batch: 2, seqLen: 5, heads: 3) }
        XCTAssertLessThan(result.worst, 1e-3, "errors \(result.relativeErrors)")
    }

    func testBackwardAccumulatesIntoExistingGradients() {
        let table = RotaryTable(headDim: 32, maxPositions: 8)
        let x = randomInput([2 * 6, 2 * 32], seed: 54)
        for e in accumulationErrors([x], { rotary($0[0], table: table, batch: 2, seqLen: 6, heads: 2) }) {
            XCTAssertLessThan(e, 1e-6)
        }
    }
}
