/// Progress of a long operation: a phase name and a fraction in 0...1.
public typealias DeltaProgress = (_ phase: String, _ fraction: Double) -> Void
