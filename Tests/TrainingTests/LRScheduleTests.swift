// LRSchedule: warm-up reaches the peak exactly at warmup_steps, decay ends at min_lr_ratio·peak.
import XCTest
import Training

final class LRScheduleTests: XCTestCase {
    func testWarmupIsLinearAndReachesPeak() {
        let s = LRSchedule(peak: 1e-3, shape: .cosine, warmupSteps: 10, totalSteps: 100, minRatio: 0.1)
        XCTAssertEqual(s.lr(step: 1), 1e-4, accuracy: 1e-12)
        XCTAssertEqual(s.lr(step: 5), 5e-4, accuracy: 1e-12)
        XCTAssertEqual(s.lr(step: 10), 1e-3, accuracy: 1e-12)
    }

    func testCosineEndsAtMinRatioAndPassesMidpoint() {
        let s = LRSchedule(peak: 2, shape: .cosine, warmupSteps: 0, totalSteps: 100, minRatio: 0.1)
        XCTAssertEqual(s.lr(step: 100), 0.2, accuracy: 1e-12)
        XCTAssertEqual(s.lr(step: 50), 2 * (0.1 + 0.9 * 0.5), accuracy: 1e-12)  // cos(π/2) = 0
    }

    func testLinearAndConstant() {
        let lin = LRSchedule(peak: 1, shape: .linear, warmupSteps: 10, totalSteps: 110, minRatio: 0)
        XCTAssertEqual(lin.lr(step: 60), 0.5, accuracy: 1e-12)
        XCTAssertEqual(lin.lr(step: 110), 0, accuracy: 1e-12)
        let c = LRSchedule(peak: 3, shape: .constant, warmupSteps: 0, totalSteps: 10, minRatio: 0.1)
        XCTAssertEqual(c.lr(step: 10), 3)
    }
}
