public import OTACore

/// The languages reports, exports and result notices are written in.
public enum RecordLanguage: String, Sendable, CaseIterable {
    case en
    case zhCN = "zh-CN"

    /// `en` or `zh-CN` text.
    public func pick(_ en: String, _ zh: String) -> String { self == .en ? en : zh }
}

/// Localized names of the record's vocabulary: one table for reports, exports and notices.
extension RecordStep {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .vehicleInit: language.pick("Vehicle set up", "车辆初始化")
        case .stateCheck: language.pick("Installer state seal checked", "安装状态封印检查")
        case .trustCheck: language.pick("Trust store seal checked", "信任库封印检查")
        case .trustRecover: language.pick("Interrupted trust change settled", "中断的信任库变更已处理")
        case .trustUpdate: language.pick("Trust store updated", "信任库更新")
        case .agentRefresh: language.pick("Repository metadata refreshed", "升级仓库元数据更新")
        case .clockFloor: language.pick("Clock floor moved by signed repository time", "按仓库签名时间更新时钟下限")
        case .agentTrust: language.pick("Trust material fetched from the repository", "从升级仓库获取信任材料")
        case .agentSelect: language.pick("Repository entries read", "读取升级仓库条目")
        case .agentCheck: language.pick("Repository checked for updates", "检查可用升级")
        case .agentDownload: language.pick("Bundle downloaded", "升级包下载")
        case .repository: language.pick("Repository entry checked", "升级仓库条目核对")
        case .install: language.pick("Install requested", "请求安装")
        case .verify: language.pick("Signatures verified", "签名验证")
        case .target: language.pick("Targeting checked", "适用车型检查")
        case .antiRollback: language.pick("Anti-rollback checked", "防回滚检查")
        case .approval: language.pick("Approval checked", "准入批准检查")
        case .filing: language.pick("Filings checked", "备案检查")
        case .plan: language.pick("Slots planned", "分区规划")
        case .unchanged: language.pick("Bundle unchanged since check", "升级包未变更")
        case .precondition: language.pick("Preconditions checked", "前置条件检查")
        case .consent: language.pick("User confirmation", "用户确认")
        case .decrypt: language.pick("Content key unwrapped", "内容密钥解封")
        case .applyStart: language.pick("Writing started", "开始写入")
        case .apply: language.pick("Writing", "写入")
        case .applyImage: language.pick("ECU image written", "控制器镜像已写入")
        case .applyInstalled: language.pick("All images written", "全部镜像已写入")
        case .activate: language.pick("Switched to new software (trial)", "切换至新软件（试运行）")
        case .boot: language.pick("Boot", "启动")
        case .confirm: language.pick("Confirmation after boot", "启动后确认")
        case .commit: language.pick("Update committed", "升级已生效")
        case .rollback: language.pick("Rolled back", "已回滚")
        case .recover: language.pick("Recovered after restart", "重启后恢复")
        case .agentInstall: language.pick("Agent install", "代理安装")
        case .agentConfirm: language.pick("Agent confirmed after boot", "代理启动后确认")
        case .agentRolledBack: language.pick("Agent found a fallback to previous software", "代理发现已回退至原软件")
        case .result: language.pick("Update result", "升级结果")
        }
    }
}

extension RecordOutcome {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .success: language.pick("success", "成功")
        case .rejected: language.pick("rejected", "拒绝")
        case .failure: language.pick("failure", "失败")
        case .rolledBack: language.pick("rolled back", "已回滚")
        case .pending: language.pick("pending", "进行中")
        }
    }
}

extension ConfirmingParty {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .owner: language.pick("owner", "车主")
        case .driver: language.pick("driver", "驾驶人")
        case .fleet: language.pick("fleet operator", "车队运营方")
        case .technician: language.pick("technician", "技术人员")
        }
    }
}

extension ConsentAnswer {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .accepted: language.pick("accepted", "同意")
        case .refused: language.pick("refused", "拒绝")
        }
    }
}

extension RecordPhase {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .check: language.pick("check", "检查")
        case .install: language.pick("install", "安装")
        }
    }
}

extension ClockSource {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .gnss: language.pick("GNSS", "卫星授时")
        case .ntp: language.pick("NTP", "网络授时")
        case .rtc: language.pick("real-time clock", "实时时钟")
        case .backend: language.pick("backend", "后台")
        case .signedFloor: language.pick("signed time floor", "签名时间下限")
        case .factory: language.pick("factory data", "出厂数据")
        case .test: language.pick("test clock", "测试时钟")
        }
    }
}

extension ChangeCategory {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .automatedDriving: language.pick("automated driving", "自动驾驶")
        case .drivingAssistance: language.pick("driving assistance", "驾驶辅助")
        case .safety: language.pick("safety", "安全")
        case .energy: language.pick("energy saving", "节能")
        case .environmental: language.pick("environmental protection", "环保")
        case .antiTheft: language.pick("anti-theft", "防盗")
        case .recall: language.pick("recall", "召回")
        case .securityFix: language.pick("security fix", "安全修复")
        case .other: language.pick("other", "其他")
        }
    }
}

extension RegulatoryReference.Kind {
    public func label(_ language: RecordLanguage) -> String {
        switch self {
        case .filing: language.pick("filing", "备案")
        case .changePermit: language.pick("change permit", "变更许可")
        case .adApproval: language.pick("automated-driving approval", "自动驾驶准入批准")
        case .recallFiling: language.pick("recall filing", "召回备案")
        case .taExtension: language.pick("type-approval extension", "型式批准扩展")
        }
    }
}

/// Why an update did not go through, in words a vehicle user or an auditor reads, for the
/// codes that end attempts most often; any other code is named as it is.
public enum RecordReasonText {
    public static func text(for code: String, _ language: RecordLanguage) -> String {
        switch code {
        case "approval.missing":
            language.pick("an automated-driving change needs an approval and none was given", "自动驾驶相关变更需要准入批准，但未提供")
        case "approval.invalid": language.pick("the approval was not valid for this update", "准入批准对本次升级无效")
        case "consent.missing": language.pick("nobody answered the update notice", "未对升级告知作出答复")
        case "consent.refused": language.pick("the update was declined", "升级被拒绝")
        case "consent.skilled-person": language.pick("this update must be confirmed by a technician", "本次升级须由技术人员确认")
        case "boot.fallback":
            language.pick(
                "the new software did not start correctly; the previous software was restored", "新软件未能正常启动，已恢复原软件")
        case "rollback.requested": language.pick("the update was rolled back on request", "应要求回滚了本次升级")
        case "rollback.security-version", "rollback.version":
            language.pick("the update would have installed older software", "本次升级会安装更旧的软件")
        case "install.interrupted":
            language.pick("the installation was interrupted and will be redone in full", "安装被中断，将完整重做")
        case "slot.hash-mismatch": language.pick("the written software did not match its signed hash", "写入的软件与签名哈希不符")
        case let other where other.hasPrefix("precondition."):
            language.pick("the vehicle was not in a safe state for the update", "车辆不满足升级的安全条件")
        case let other where other.hasPrefix("signature.") || other.hasPrefix("certificate."):
            language.pick("the update's signatures could not be verified", "升级包签名验证未通过")
        case let other where other.hasPrefix("target."):
            language.pick("the update is not meant for this vehicle", "升级包不适用于本车")
        case let other where other.hasPrefix("filing."):
            language.pick("a required filing reference was missing or expired", "缺少必要的备案信息或已过期")
        default: language.pick("error \(code)", "错误 \(code)")
        }
    }
}
