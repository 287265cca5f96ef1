// Alice's refresh failing (optimizers-lowrank.md §5: an eigen or QR failure keeps the
// previous basis): a corrupted tracked state makes the subspace iteration fail at a refresh;
// the rule keeps its basis, reports the event and the failure count, and the update stays finite.
import XCTest
import Optimizers
import Tensors

final class AliceFaultTests: XCTestCase {
    func testFailedRefreshKeepsThePreviousBasisAndReportsIt() throws {
        let m = 6, n = 10
        let rule = Alice(rank: 3, leading: 1, updateGap: 2)
        let h = try RuleHarness(rule, theta: [Float](repeating: 0, count: m * n), shape: [m, n])
        func g(_ k: Int) -> [Float] { (0..<(m * n)).map { Float(sin(Double($0 * 7 + k * 3) * 0.37)) } }
        try h.run(g(1), lr: 0.01)                         // t = 1: first basis
        let basis = h.buffer("basis")
        let tracked = h.state.float("tracked")
        tracked[0] = .nan                                 // the next refresh (t = 2) cannot be computed
        let theta = try h.run(g(2), lr: 0.01)
        XCTAssertEqual(h.buffer("basis"), basis, "the previous basis is kept")
        XCTAssertTrue(theta.allSatisfy { $0.isFinite })
        XCTAssertEqual(h.optimizer.metrics.values.first { $0.0 == "basis_failures" }?.1, 1)
        let event = try XCTUnwrap(h.optimizer.metrics.events.first)
        XCTAssertTrue(event.contains("model.layers.0.mlp.up_proj.weight") && event.contains("kept the previous basis"), event)
    }
}

final class RACSFaultTests: XCTestCase {
    func testNonFiniteGradientLeavesWeightAndStateAndIsReported() throws {
        let h = try RuleHarness(RACS(), theta: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        try h.run([0.1, -0.2, 0.3, 0.4, 0.5, -0.6], lr: 0.02)
        let theta = h.theta.array, s = h.buffer("col_scale"), q = h.buffer("row_scale"), phi = h.buffer("nl_norm")
        XCTAssertEqual(try h.run([0.1, .nan, 0.3, 0.4, 0.5, .infinity], lr: 0.02), theta)
        XCTAssertEqual(h.buffer("col_scale"), s)
        XCTAssertEqual(h.buffer("row_scale"), q)
        XCTAssertEqual(h.buffer("nl_norm"), phi)
        XCTAssertEqual(h.state.updates, 1)
        XCTAssertTrue(h.optimizer.metrics.events.first?.contains("not finite") == true)
    }
}
