import Testing

/// The suites that run the service with nginx in front, one test at a time (each starts nginx and
/// PostgreSQL work; the service itself runs on `ServiceExecutor`, off the cooperative pool).
@Suite(.serialized) enum FleetIntegration {}
