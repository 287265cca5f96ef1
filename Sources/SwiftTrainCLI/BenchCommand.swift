// `swift-train bench`: this machine's speed figures — square sgemm GFLOP/s and each core op's
// forward and forward+backward time at LLaMA-small sizes, or with --config complete training
// steps of a run config (tokens/s, model GFLOP/s and its ratio to sgemm in the same run).
import ArgumentParser
import Foundation
import Optimizers
import Tensors
import Training

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm, per-op and training-step speed on this machine.",
        discussion: BenchCommand.fieldsHelp)

    @Flag(help: "Print exactly one JSON object (fields listed above) instead of tables.")
    var json = false
    @Option(help: "Threads for OpenBLAS and the parallel loops (0 = all cores). Default: the config's threads with --config, else all cores.")
    var threads: Int?
    @Option(help: "Run config (JSON): time complete training steps of its model, batch, grad_accum and optimizer on random tokens (no data folder needed).")
    var config: String?
    @Option(help: "With --config: time this optimizer instead of the config's (its own keys at their defaults; keys of the file's optimizer it does not read are left out).")
    var optimizer: String?
    @Flag(help: "Few repetitions (for tests and smoke runs; figures are noisier).")
    var quick = false

    static let fieldsHelp = """
    Every figure is a median over repetitions after an untimed warm-up.

    Without --config: sgemm C = A·B, square n = 512, 1024, 2048 (2·n³ FLOPs),
    then each op at B 8, T 256, d 256, H 8, head_dim 32, I 688, V 4096
    (N = B·T = 2048 rows). Fields of each op in --json:
      forward_ms           forward with the tape recording (as in training)
      forward_backward_ms  forward + tape.backward(from: out, seed:), minus
                           seed_ms
      backward_ms          the SAME value as forward_backward_ms (forward
                           included); backward alone = forward_backward_ms
                           − forward_ms
      seed_ms              what backward(from:seed:) spends on seeding the
                           output's gradient (zeroed buffer + seed add),
                           timed alone on an empty tape and subtracted
      gflops               matmul FLOPs of forward+backward per second;
      forward_gflops       of forward. linear: 2·N·in·out forward, 3× that
                           forward+backward. attention: 2 products (Q·Kᵀ,
                           P·V) forward, 4 backward, each 2·B·H·hd·T(T+1)/2,
                           the causal half the kernel computes
      gbps, forward_gbps   nominal bytes read + written (each tensor once per
                           pass, 4 bytes a float) per second; rmsnorm,
                           swiglu, silu, rotary, embedding, cross_entropy,
                           add, mul

    With --config FILE: complete training steps (zeroGrad, grad_accum
    micro-batches of forward and backward, grad norm and clip, optimizer
    step) on random tokens. Fields: tokens_per_s, step_ms,
    flops_per_step = 6 · P_mat · tokens + attention, where P_mat is the
    weights of the matrix products (attention, MLP and lm_head; not the
    embedding table, whose lookup multiplies nothing, nor the norms) and
    attention = layers × grad_accum × 3 × 2 products of 2·B·H·hd·T(T+1)/2
    (the causal half the kernel computes); model_gflops = flops_per_step /
    step time; sgemm_gflops (n = 1024, same run: the median of repetitions
    just before and just after the timed steps); ratio = model_gflops /
    sgemm_gflops; outside_blas_share = 1 − (core-seconds inside sgemm) /
    (threads × step time); products: every sgemm shape of the step with
    calls and FLOPs per step, its GFLOP/s alone (fresh buffers, the
    threads it ran with) and in_step_gflops (its time inside the timed
    steps); product_ceiling_gflops = the step's product
    FLOPs at those rates; optimizer_alone_ms = the update alone, repeated
    on the last gradients; attention_alone_ms = every layer's attention
    forward + backward alone (its own register tiles, not sgemm, so it is
    part of the time outside BLAS) and attention_gflops its causal-half
    FLOPs per second; also threads, parameters, optimizer,
    tokens_per_step, steps_timed, forward_ms, backward_ms, grad_norm_ms,
    optimizer_ms, other_ms (phase medians; other = zeroGrad and gaps).
    """

    mutating func validate() throws {
        if let t = threads {
            do { try RunConfig.checkThreads(t, place: "--threads") } catch let e as ConfigError { throw ValidationError(e.description) }
        }
    }

    func run() throws {
        do {
            if let path = config {
                try runStep(path)
            } else {
                runOps()
            }
        } catch let e as ConfigError {
            throw CLIError(e.description)
        }
    }

    var settings: BenchSettings { quick ? .quick : .full }

    // MARK: - sgemm and ops

    func runOps() {
        Parallel.setThreads(threads ?? 0)
        let sgemm = SgemmBenchmark.run(settings: settings)
        if !json { printSgemm(sgemm) }
        let ops = OpBenchmark.run(settings: settings)
        if json {
            let opsJSON = ops.map { op -> (String, JSONOut) in
                var fields: [(String, JSONOut)] = [
                    ("forward_ms", .number(op.forwardSeconds * 1e3)),
                    ("backward_ms", .number(op.forwardBackwardSeconds * 1e3)),
                    ("forward_backward_ms", .number(op.forwardBackwardSeconds * 1e3)),
                    ("seed_ms", .number(op.seedSeconds * 1e3)),
                ]
                if let g = op.gflops, let f = op.forwardGflops { fields += [("gflops", .number(g)), ("forward_gflops", .number(f))] }
                if let g = op.gbps, let f = op.forwardGbps { fields += [("gbps", .number(g)), ("forward_gbps", .number(f))] }
                return (op.name, .object(fields))
            }
            let object: JSONOut = .object([
                ("threads", .int(Parallel.threads)),
                ("openblas_core", .string(BLAS.coreName)),
                ("sgemm_gflops", .object(sgemm.map { (String($0.size), .number($0.gflops)) })),
                ("ops", .object(opsJSON)),
            ])
            print(object.text)
            return
        }
        let s = OpBenchShape.llamaSmall
        print("ops at B \(s.batch), T \(s.seqLen), d \(s.hidden), H \(s.heads), head_dim \(s.headDim), I \(s.intermediate), V \(s.vocab) (N = \(s.rows) rows); medians in ms")
        print("  fwd = forward with the tape recording; fwd+bwd = forward and backward (seeding subtracted); bwd = fwd+bwd − fwd")
        print("  " + pad("op", 14) + lpad("fwd", 8) + lpad("fwd+bwd", 9) + lpad("bwd", 8) + lpad("seed", 7)
              + lpad("fwd rate", 11) + lpad("fwd+bwd rate", 14) + "  unit      shape")
        for op in ops {
            let (unit, fr, fbr) = op.gflops != nil
                ? ("GFLOP/s", op.forwardGflops!, op.gflops!) : ("GB/s", op.forwardGbps ?? .nan, op.gbps ?? .nan)
            print("  " + pad(op.name, 14) + lpad(ms(op.forwardSeconds), 8) + lpad(ms(op.forwardBackwardSeconds), 9)
                  + lpad(ms(op.backwardOnlySeconds), 8) + lpad(ms(op.seedSeconds), 7)
                  + lpad(fixed(fr, 1), 11) + lpad(fixed(fbr, 1), 14) + "  " + pad(unit, 8) + "  " + op.shape)
        }
        print("  attention GFLOP/s count Q·Kᵀ, P·V (and 4 backward products) over the causal half (keys t' ≤ t), as the kernel computes them; GB/s count each tensor once per pass")
    }

    func printSgemm(_ figures: [SgemmBenchmark.Figure]) {
        print("threads: \(Parallel.threads) (sgemm below on OpenBLAS's own threads, as a C program gets it; \(BLAS.configuration.trimmingCharacters(in: .whitespaces)))")
        if let hint = OpenBLASEnvironment.hint { print(hint) }
        print("sgemm, square C = A·B (2·n³ FLOPs), median" + (quick ? " (--quick: few repetitions)" : ""))
        print("  " + lpad("n", 6) + lpad("ms", 10) + lpad("GFLOP/s", 10))
        for f in figures {
            print("  " + lpad(String(f.size), 6) + lpad(ms(f.seconds), 10) + lpad(fixed(f.gflops, 1), 10))
        }
        print("")
    }

    // MARK: - training step

    func runStep(_ path: String) throws {
        var run = try RunConfig.load(URL(fileURLWithPath: path))
        if let optimizer { try run.set("optimizer", text: optimizer) }
        Parallel.setThreads(threads ?? run.int("threads"))
        let mc = try run.modelConfig()
        do { _ = try OptimizerCatalog.descriptor(named: run.string("optimizer")) } catch let e as OptimizerError {
            throw ConfigError("\(path): \(e.description)")
        }
        let warmups = quick ? 1 : 2
        let stepSettings = quick ? BenchSettings(warmups: 0, minRepetitions: 2, maxRepetitions: 2, budgetSeconds: 0)
                                 : BenchSettings(warmups: 0, minRepetitions: 5, maxRepetitions: 15, budgetSeconds: 8)
        if !json {
            print("threads: \(Parallel.threads) (the step's products split over them, OpenBLAS on one thread per piece; sgemm 1024 on OpenBLAS's own threads; \(BLAS.configuration.trimmingCharacters(in: .whitespaces)))")
            if let hint = OpenBLASEnvironment.hint { print(hint) }
            print("model: \(mc.numHiddenLayers) layers, d \(mc.hiddenSize), H \(mc.numAttentionHeads), I \(mc.intermediateSize), V \(mc.vocabSize): \(mc.parameterCount) parameters")
        }
        let f = try StepBenchmark.run(config: run, settings: stepSettings, warmupSteps: warmups, sgemmSettings: settings)
        if json {
            let object: JSONOut = .object([
                ("threads", .int(f.threads)),
                ("parameters", .int(f.parameters)),
                ("optimizer", .string(f.optimizer)),
                ("tokens_per_step", .int(f.tokensPerStep)),
                ("steps_timed", .int(f.repetitions)),
                ("step_ms", .number(f.stepSeconds * 1e3)),
                ("forward_ms", .number(f.forwardSeconds * 1e3)),
                ("backward_ms", .number(f.backwardSeconds * 1e3)),
                ("grad_norm_ms", .number(f.gradNormSeconds * 1e3)),
                ("optimizer_ms", .number(f.optimizerSeconds * 1e3)),
                ("other_ms", .number(f.otherSeconds * 1e3)),
                ("tokens_per_s", .number(f.tokensPerSecond)),
                ("model_gflop_per_step", .number(f.modelFlops / 1e9)),
                ("model_gflops", .number(f.modelGflops)),
                ("sgemm_gflops", .number(f.sgemmGflops)),
                ("ratio", .number(f.ratio)),
                ("flops_per_step", .number(f.modelFlops)),
                ("attention_flops_per_step", .number(f.attentionFlops)),
                ("outside_blas_share", .number(f.profile.outsideBLASShare)),
                ("product_ceiling_gflops", .number(f.profile.ceilingGflops)),
                ("optimizer_alone_ms", .number(f.optimizerAloneSeconds * 1e3)),
                ("attention_alone_ms", .number(f.attentionAloneSeconds * 1e3)),
                ("attention_gflops", .number(f.attentionGflops)),
                ("products", .array(f.profile.shapes.map { p in
                    .object([("m", .int(p.shape.m)), ("n", .int(p.shape.n)), ("k", .int(p.shape.k)),
                             ("trans_a", .int(p.shape.transA ? 1 : 0)), ("trans_b", .int(p.shape.transB ? 1 : 0)),
                             ("blas_threads", .int(p.shape.threads)), ("calls_per_step", .number(p.calls)),
                             ("flops_per_step", .number(p.flops)), ("gflops", .number(p.gflops)),
                             ("in_step_gflops", .number(p.inStepGflops))])
                })),
            ])
            print(object.text)
            return
        }
        print("batch \(f.batch) × seq_len \(f.seqLen) × grad_accum \(f.gradAccum) = \(f.tokensPerStep) tokens/step; optimizer \(f.optimizer); \(f.repetitions) timed steps after \(warmups) warm-up")
        let rows: [(String, String)] = [
            ("step", ms(f.stepSeconds) + " ms"),
            ("  forward", ms(f.forwardSeconds) + " ms"),
            ("  backward", ms(f.backwardSeconds) + " ms"),
            ("  grad norm + clip", ms(f.gradNormSeconds) + " ms"),
            ("  optimizer step", ms(f.optimizerSeconds) + " ms"),
            ("  zeroGrad, other", ms(f.otherSeconds) + " ms"),
            ("  optimizer alone", ms(f.optimizerAloneSeconds) + " ms (" + fixed(100 * f.optimizerAloneSeconds / f.stepSeconds, 1) + "% of the step; the update repeated on the last gradients)"),
            ("tokens/s", fixed(f.tokensPerSecond, 0)),
            ("model GFLOP/s", fixed(f.modelGflops, 1) + " (" + fixed(f.modelFlops / 1e9, 2) + " GFLOP/step = 6·P_mat·tokens + attention " + fixed(f.attentionFlops / 1e9, 2) + ", causal half)"),
            ("sgemm 1024 GFLOP/s", fixed(f.sgemmGflops, 1) + " (same run, before and after the steps)"),
            ("ratio", fixed(f.ratio, 3) + " (model GFLOP/s ÷ sgemm GFLOP/s)"),
            ("product ceiling", fixed(f.profile.ceilingGflops, 1) + " GFLOP/s (this step's products, each at its rate alone)"),
            ("outside BLAS", fixed(100 * f.profile.outsideBLASShare, 1) + "% of the cores' time"),
            ("  attention alone", ms(f.attentionAloneSeconds) + " ms (" + fixed(100 * f.attentionAloneSeconds / f.stepSeconds, 1) + "% of the step; every layer's forward + backward, own register tiles: " + fixed(f.attentionGflops, 1) + " GFLOP/s over the causal half)"),
        ]
        for (k, v) in rows { print("  " + pad(k, 20) + " " + v) }
        print("  products per step (by FLOPs; GFLOP/s alone at the BLAS threads they ran with, and inside the step):")
        let total = max(f.profile.blasFlops, 1)
        for p in f.profile.shapes.prefix(12) {
            print("    " + pad(p.shape.description, 34) + lpad(fixed(p.calls, 0), 6) + " calls" + lpad(fixed(100 * p.flops / total, 1), 7) + "%" + lpad(fixed(p.gflops, 1), 9) + " GFLOP/s" + lpad(fixed(p.inStepGflops, 1), 9) + " in step")
        }
        if f.profile.shapes.count > 12 { print("    … \(f.profile.shapes.count - 12) more shapes (all in --json)") }
    }

    // MARK: - formatting

    func ms(_ seconds: Double) -> String { fixed(seconds * 1e3, seconds < 0.01 ? 3 : 2) }
    func fixed(_ x: Double, _ digits: Int) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "–" }
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}

/// A JSON value with ordered keys, printed compactly (non-finite numbers become null).
enum JSONOut {
    case int(Int), number(Double), string(String)
    case object([(String, JSONOut)])
    case array([JSONOut])

    var text: String {
        switch self {
        case .int(let i): return String(i)
        case .number(let d): return d.isFinite ? String(format: "%.6g", d) : "null"
        case .string(let s): return JSONValue.quoted(s)
        case .object(let fields):
            return "{" + fields.map { JSONValue.quoted($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
        case .array(let items):
            return "[" + items.map(\.text).joined(separator: ", ") + "]"
        }
    }
}
