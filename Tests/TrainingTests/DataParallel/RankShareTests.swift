// RankShare: the ranks' micro-batches cover each sequence of the step's global batch exactly
// once, each inside one of the one-process micro-batches, with weights summing to one; an
// uneven split is refused naming the flags.
import XCTest
import Training

final class RankShareTests: XCTestCase {
    func testRanksCoverTheGlobalBatchOnceWithWeightsSummingToOne() throws {
        for (b, a) in [(8, 1), (4, 2), (2, 3), (6, 2), (3, 4), (16, 1)] {
            for n in 1...(b * a) where (b * a) % n == 0 {
                var seen = [Int](repeating: 0, count: b * a)
                var weight = 0.0
                for r in 0..<n {
                    let share = try RankShare(rank: r, ranks: n, batchSize: b, gradAccum: a)
                    XCTAssertEqual(share.microSize * share.microCount * n, b * a)
                    XCTAssertEqual(b % share.microSize, 0, "a micro-batch lies inside one of the one-process micro-batches")
                    for j in 0..<share.microCount {
                        let (k, rows) = share.micro(j)
                        XCTAssertTrue((0..<a).contains(k))
                        XCTAssertTrue(rows.lowerBound >= 0 && rows.upperBound <= b)
                        for row in rows { seen[k * b + row] += 1 }
                        weight += share.lossWeight
                    }
                }
                XCTAssertEqual(seen, [Int](repeating: 1, count: b * a), "B \(b) A \(a) N \(n)")
                XCTAssertEqual(weight, 1, accuracy: 1e-12)
            }
        }
    }

    func testOneRankIsTheOneProcessStep() throws {
        let share = try RankShare(rank: 0, ranks: 1, batchSize: 8, gradAccum: 4)
        XCTAssertEqual(share.microSize, 8)
        XCTAssertEqual(share.microCount, 4)
        XCTAssertEqual((0..<4).map { share.micro($0).batch }, [0, 1, 2, 3])
        XCTAssertEqual(Float(share.lossWeight), 1 / Float(4))
    }

    func testRanksThatDoNotDivideTheBatchAreRefused() {
        XCTAssertThrowsError(try RankShare(rank: 0, ranks: 3, batchSize: 4, gradAccum: 2)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("8 sequences") && text.contains("mpirun -np") && text.contains("--batch-size"), text)
        }
    }
}
