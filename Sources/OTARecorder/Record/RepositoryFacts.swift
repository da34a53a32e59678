/// What the vehicle's TUF client and agent established (second key hierarchy): the repository,
/// the target entry the bundle came from, the metadata versions it was verified with, the
/// clock floor the timestamp moved, and how a download went.
public struct RepositoryFacts: Sendable, Equatable {
    /// The repository's base URL.
    public var repository: String?
    /// The target entry's name.
    public var target: String?
    /// Whether this vehicle installs only what its repository lists.
    public var required: Bool?
    /// A workshop install without a repository entry (the recorded exception).
    public var workshop: Bool?
    public var rootVersion: Int64?
    public var timestampVersion: Int64?
    public var snapshotVersion: Int64?
    public var targetsVersion: Int64?
    /// What the TUF client reported while refreshing (root rotations, fast-forward recovery).
    public var events: [String]
    /// The time the timestamp role signed (`x-ota-signed-at`), RFC 3339 UTC with milliseconds.
    public var signedAt: String?
    /// The clock floor it moved the vehicle to, and whether the step bound cut it short.
    public var clockFloor: String?
    public var floorBounded: Bool?
    public var download: DownloadReading?

    public init(
        repository: String? = nil, target: String? = nil, required: Bool? = nil, workshop: Bool? = nil,
        rootVersion: Int64? = nil,
        timestampVersion: Int64? = nil, snapshotVersion: Int64? = nil, targetsVersion: Int64? = nil,
        events: [String] = [],
        signedAt: String? = nil, clockFloor: String? = nil, floorBounded: Bool? = nil, download: DownloadReading? = nil
    ) {
        self.repository = repository
        self.target = target
        self.required = required
        self.workshop = workshop
        self.rootVersion = rootVersion
        self.timestampVersion = timestampVersion
        self.snapshotVersion = snapshotVersion
        self.targetsVersion = targetsVersion
        self.events = events
        self.signedAt = signedAt
        self.clockFloor = clockFloor
        self.floorBounded = floorBounded
        self.download = download
    }

    /// `self` with every field `other` sets taken from `other`.
    public func merged(with other: RepositoryFacts) -> RepositoryFacts {
        RepositoryFacts(
            repository: other.repository ?? repository, target: other.target ?? target,
            required: other.required ?? required,
            workshop: other.workshop ?? workshop, rootVersion: other.rootVersion ?? rootVersion,
            timestampVersion: other.timestampVersion ?? timestampVersion,
            snapshotVersion: other.snapshotVersion ?? snapshotVersion,
            targetsVersion: other.targetsVersion ?? targetsVersion,
            events: other.events.isEmpty ? events : other.events,
            signedAt: other.signedAt ?? signedAt, clockFloor: other.clockFloor ?? clockFloor,
            floorBounded: other.floorBounded ?? floorBounded,
            download: other.download ?? download)
    }
}

/// How a bundle download went: its signed length, where it resumed, what arrived, the chunks
/// fetched again after a bad hash and the retries.
public struct DownloadReading: Sendable, Equatable {
    public var bytes: UInt64?
    public var resumedFrom: UInt64?
    public var received: UInt64?
    public var refetchedChunks: UInt64?
    public var retries: UInt64?
    /// The transport's retry log (shortened to fit).
    public var retryLog: String?

    public init(
        bytes: UInt64? = nil, resumedFrom: UInt64? = nil, received: UInt64? = nil, refetchedChunks: UInt64? = nil,
        retries: UInt64? = nil,
        retryLog: String? = nil
    ) {
        self.bytes = bytes
        self.resumedFrom = resumedFrom
        self.received = received
        self.refetchedChunks = refetchedChunks
        self.retries = retries
        self.retryLog = retryLog
    }
}
