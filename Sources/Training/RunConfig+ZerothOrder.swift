// RunConfig's zeroth-order and adapter settings: whether the run attaches tensor-train
// adapters (AdaZeta, spec optimizers-elementwise-zo.md §7.2) and with which structure, and
// the checks a zeroth-order optimizer (MeZO, AdaZeta) needs of the other keys.
import Foundation
import LlamaModel
import Optimizers

extension RunConfig {
    /// The chosen optimizer's descriptor (nil when the name is unknown: validated elsewhere).
    var optimizerDescriptor: OptimizerDescriptor? { try? OptimizerCatalog.descriptor(named: string("optimizer")) }

    /// Whether the chosen optimizer estimates gradients from forward passes.
    public var isZerothOrder: Bool { optimizerDescriptor?.zerothOrder ?? false }

    /// The adapters this run attaches (nil: none), from the `adapter_*` keys; `auto` means
    /// tt for an optimizer that trains adapters only (adazeta). Errors name the key and the fix.
    public func adapterConfig() throws -> AdapterConfig? {
        switch string("adapters") {
        case "none":
            if let d = optimizerDescriptor, d.trainsAdapters {
                throw ConfigError("\(origins["adapters"] ?? "adapters") is none, but \(d.name) trains tensor-train adapters only; set adapters to tt (or auto), or choose an optimizer that trains every weight")
            }
            return nil
        case "auto" where !(optimizerDescriptor?.trainsAdapters ?? false):
            return nil
        default:
            break
        }
        func modes(_ key: String) throws -> [Int]? {
            let text = string(key).trimmingCharacters(in: .whitespaces)
            if text.isEmpty { return nil }
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.allSatisfy({ ($0 ?? 0) >= 2 }) else {
                throw ConfigError("\(origins[key] ?? key) \"\(text)\" must be a comma-separated list of integers ≥ 2, e.g. \"16,16,16\"")
            }
            return parts.map { $0! }
        }
        func choice<T: RawRepresentable>(_ key: String, _ type: T.Type) -> T where T.RawValue == String {
            T(rawValue: string(key))!  // the key is a choice of exactly these values, checked on load
        }
        let config = AdapterConfig(rank: int("adapter_rank"), bottleneck: int("adapter_bottleneck"),
                                   activation: choice("adapter_activation", AdapterActivation.self),
                                   placement: choice("adapter_placement", AdapterPlacement.self),
                                   initialization: choice("adapter_init", AdapterInit.self),
                                   modelModes: try modes("adapter_model_modes"),
                                   bottleneckModes: try modes("adapter_bottleneck_modes"))
        do { _ = try config.shapes(hiddenSize: try modelConfig().hiddenSize) } catch let e as TensorTrainError {
            throw ConfigError("adapters: \(e.description)")
        }
        return config
    }

    /// A zeroth-order step uses one batch: grad_accum must be 1. Returns notes for the keys
    /// it does not use (grad_clip, per_layer_update, activation_checkpointing).
    public func validateZerothOrder() throws -> [String] {
        guard isZerothOrder else { return [] }
        let name = optimizerDescriptor?.name ?? string("optimizer")
        if gradAccum > 1 {
            throw ConfigError("\(origins["grad_accum"] ?? "grad_accum") \(gradAccum): \(name) estimates each step from two forward passes per query on one batch; set grad_accum to 1 (raise batch_size instead)")
        }
        var notes: [String] = []
        for key in ["grad_clip", "per_layer_update", "activation_checkpointing"] where isSet(key) && value(key)?.double != 0 && value(key) != .bool(false) {
            notes.append("\(key) \(value(key)!.described) has no effect on \(name): it computes no gradient and keeps no activations for backward")
        }
        return notes
    }
}
