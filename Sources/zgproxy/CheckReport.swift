import EVM
import Foundation

/// A list of named checks, each passed, failed or skipped, as `doctor` and `providers verify`
/// print them: one line per check, with the fix on the line of a failure.
struct CheckReport {
    enum Status: String {
        case pass, fail, skip
    }

    struct Check {
        let name: String
        let status: Status
        let detail: String
        /// What to do about a failure.
        let fix: String?
        /// How the command exits when this is the first failure.
        let failure: CLIFailure.Kind
    }

    private(set) var checks: [Check] = []

    mutating func pass(_ name: String, _ detail: String) {
        checks.append(Check(name: name, status: .pass, detail: detail, fix: nil, failure: .other))
    }

    mutating func fail(_ name: String, _ detail: String, fix: String? = nil, kind: CLIFailure.Kind = .other) {
        checks.append(Check(name: name, status: .fail, detail: detail, fix: fix, failure: kind))
    }

    mutating func skip(_ name: String, _ detail: String) {
        checks.append(Check(name: name, status: .skip, detail: detail, fix: nil, failure: .other))
    }

    var failures: [Check] { checks.filter { $0.status == .fail } }
    var passed: Bool { failures.isEmpty }

    /// `ok    rpc            block 12 at http://127.0.0.1:8545`, `FAIL  …  → fix: …`.
    func lines() -> [String] {
        let width = (checks.map(\.name.count).max() ?? 0) + 2
        return checks.map { check in
            let mark = switch check.status {
            case .pass: "ok  "
            case .fail: "FAIL"
            case .skip: "skip"
            }
            var line = "\(mark)  \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))\(check.detail)"
            if let fix = check.fix { line += "  → fix: \(fix)" }
            return line
        }
    }

    /// `[{"name", "status": "pass"|"fail"|"skip", "detail", "fix": null|"…"}]`.
    func json() -> JSONValue {
        .array(checks.map { check in
            ["name": .string(check.name), "status": .string(check.status.rawValue), "detail": .string(check.detail), "fix": .optional(check.fix)]
        })
    }
}
