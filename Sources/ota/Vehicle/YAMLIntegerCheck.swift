import Yams

/// Integers in a YAML file read by Yams' decoder, which follows YAML 1.1: `011` is 9 (octal),
/// `0x1F`, `0b101`, `1_000` and `1:30` (90) are numbers too, while the manifest reader and most
/// other tools read them otherwise or refuse them. Only decimal digits are taken.
enum YAMLIntegerCheck {
    /// The first plain scalar that YAML reads as an integer but is not written in plain decimal
    /// (no sign but a minus, no leading zero, no base prefix, separator or colon), with its path.
    static func firstAmbiguous(in node: Node, path: String = "") -> String? {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain, Int.construct(from: scalar) != nil else { return nil }
            guard let value = Int64(scalar.string), String(value) == scalar.string else {
                return
                    "\(path.isEmpty ? "(document)" : path): '\(scalar.string)' is a number written other than in decimal digits (YAML 1.1 reads 011 as 9): write it in decimal digits, without a sign, leading zero, base prefix or separator"
            }
            return nil
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() {
                if let found = firstAmbiguous(in: item, path: "\(path)[\(index)]") { return found }
            }
        case .mapping(let mapping):
            for (key, value) in mapping {
                let name = key.string ?? "?"
                if let found = firstAmbiguous(in: value, path: path.isEmpty ? name : "\(path).\(name)") { return found }
            }
        }
        return nil
    }
}
