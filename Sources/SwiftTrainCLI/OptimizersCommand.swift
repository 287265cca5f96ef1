// `swift-train optimizers`: the optimizers this build offers, from their descriptors — name,
// summary, state per m×n matrix and every key with its default and range; `--markdown`
// prints the README's optimizer table (the README is checked against it by a test).
import ArgumentParser
import Optimizers

struct OptimizersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimizers",
        abstract: "List the optimizers, their keys (flags) and defaults.")

    @Flag(help: "Print the README's Markdown table instead.")
    var markdown = false

    func run() throws {
        if markdown {
            print(OptimizerCatalog.markdownTable)
            return
        }
        for d in OptimizerCatalog.all {
            print("\(d.name): \(d.summary)")
            print("  rule: \(d.rule)")
            print("  state per m×n matrix: \(d.statePerMatrix); paper: \(d.paper)")
            for o in d.options {
                let range = o.range.map { " in \($0.description)" } ?? ""
                let choice: String
                if case .choice(let c) = o.kind { choice = " one of \(c.joined(separator: ", "))" } else { choice = "" }
                print("  \(o.flag.padding(toLength: 24, withPad: " ", startingAt: 0)) [\(o.defaultValue.described)]\(range)\(choice)  \(o.help)")
            }
            print("")
        }
    }
}
