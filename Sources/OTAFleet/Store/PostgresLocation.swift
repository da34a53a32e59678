public import OTACore

/// Where a PostgreSQL fleet store is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` over TCP,
/// or `postgres://USER@/DATABASE?host=/socket/directory` over a unix socket (libpq's form).
public struct PostgresLocation: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file (`DIRECTORY/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String

    public init(endpoint: Endpoint, user: String, password: String? = nil, database: String) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
    }

    /// Whether `text` names a PostgreSQL store (else it is a SQLite file path).
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses a store URL; every malformed part is named.
    public init(url text: String) throws(OTAError) {
        guard let schemeEnd = text.range(of: "://"), Self.isPostgres(text) else {
            throw OTAError(
                .usageInvalid,
                "\(text): a PostgreSQL store is postgres://USER@HOST[:PORT]/DATABASE or postgres://USER@/DATABASE?host=/socket/dir"
            )
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let at = rest.lastIndex(of: "@") else {
            throw OTAError(.usageInvalid, "\(text): the URL names no user (USER@...)")
        }
        let userInfo = rest[..<at]
        let hostAndPath = rest[rest.index(after: at)...]
        if let colon = userInfo.firstIndex(of: ":") {
            user = String(userInfo[..<colon])
            password = String(userInfo[userInfo.index(after: colon)...])
        } else {
            user = String(userInfo)
            password = nil
        }
        guard !user.isEmpty else { throw OTAError(.usageInvalid, "\(text): the user is empty") }
        guard let slash = hostAndPath.firstIndex(of: "/") else {
            throw OTAError(.usageInvalid, "\(text): the URL names no database (/DATABASE)")
        }
        let hostPort = hostAndPath[..<slash]
        database = String(hostAndPath[hostAndPath.index(after: slash)...])
        guard !database.isEmpty, !database.contains("/") else {
            throw OTAError(.usageInvalid, "\(text): the database name is empty or holds '/'")
        }
        var socketDirectory: String? = nil
        var port = 5432
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else {
                throw OTAError(.usageInvalid, "\(text): query parameter \(pair) has no value")
            }
            switch parts[0] {
            case "host": socketDirectory = String(parts[1])
            case "port":
                guard let value = Int(parts[1]), (1...65535).contains(value) else {
                    throw OTAError(.usageInvalid, "\(text): port \(parts[1]) is not 1...65535")
                }
                port = value
            default: throw OTAError(.usageInvalid, "\(text): unknown query parameter \(parts[0]) (host, port)")
            }
        }
        if hostPort.isEmpty {
            guard let socketDirectory, socketDirectory.hasPrefix("/") else {
                throw OTAError(.usageInvalid, "\(text): no host: give ?host=/absolute/socket/directory")
            }
            endpoint = .unixSocket(path: socketDirectory + "/.s.PGSQL.\(port)")
        } else {
            var host = String(hostPort)
            if let colon = hostPort.lastIndex(of: ":") {
                host = String(hostPort[..<colon])
                guard let value = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(value) else {
                    throw OTAError(
                        .usageInvalid, "\(text): port \(hostPort[hostPort.index(after: colon)...]) is not 1...65535")
                }
                port = value
            }
            guard !host.isEmpty else { throw OTAError(.usageInvalid, "\(text): the host is empty") }
            endpoint = .tcp(host: host, port: port)
        }
    }

    /// The location without the password, for messages and the store's identity.
    public var redacted: String {
        switch endpoint {
        case .tcp(let host, let port): "postgres://\(user)@\(host):\(port)/\(database)"
        case .unixSocket(let path): "postgres://\(user)@/\(database)?socket=\(path)"
        }
    }
}
