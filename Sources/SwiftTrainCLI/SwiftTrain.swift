// The `swift-train` command: one sub-command per job.
import ArgumentParser
import Foundation

@main
struct SwiftTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swift-train",
        abstract: "Pre-train LLaMA-style models on the CPU and compare memory-efficient optimizers.",
        subcommands: [TrainCommand.self, EvalCommand.self, SampleCommand.self, PrepareCommand.self, BenchCommand.self,
                      OptimizersCommand.self, MemoryCommand.self, PlotCommand.self, CompareCommand.self])

    static func main() {
        OpenBLASEnvironment.ensureSettings()
        main(nil)
    }
}
