import Testing

/// The suites that run the service with nginx in front, one test at a time: each test blocks a
/// thread of the small cooperative pool (curl, the recorder) while the service needs another.
@Suite(.serialized) enum FleetIntegration {}
