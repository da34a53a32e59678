internal import OTABase

/// What a change touches; some categories need filings or approvals (MIIT 2021 No.103, 2025 No.45).
public enum ChangeCategory: String, Codable, Sendable, CaseIterable, Comparable {
    case automatedDriving = "automated-driving"
    case drivingAssistance = "driving-assistance"
    case safety
    case energy
    case environmental
    case antiTheft = "anti-theft"
    case recall
    case securityFix = "security-fix"
    case other

    public static func < (lhs: ChangeCategory, rhs: ChangeCategory) -> Bool { lhs.rawValue < rhs.rawValue }
}
