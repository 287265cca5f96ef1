// OptimizerError: a configuration or state problem of an optimizer, with a message that
// names the setting, the parameter or the buffer, and the fix.

public struct OptimizerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
