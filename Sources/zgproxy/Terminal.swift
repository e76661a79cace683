import Foundation

/// What the command knows about the terminal it runs in, and the two interactions that depend
/// on it: asking before money moves, and a spinner while a transaction is mined.
enum Terminal {
    static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Fails early, before any network access, when a command would need to ask but nobody
    /// can answer: a script must say `--yes` explicitly rather than move funds by accident.
    static func requireConfirmable(yes: Bool, action: String) throws(CLIFailure) {
        guard !yes, !stdinIsTerminal else { return }
        throw .usage("\(action) needs confirmation, but stdin is not a terminal: pass --yes to proceed without asking")
    }

    /// Shows the plan on stderr and asks `Proceed? [y/N]`; true only for an explicit yes.
    /// With `yes` set, nothing is asked.
    static func confirm(_ plan: [String], yes: Bool) -> Bool {
        guard !yes else { return true }
        Output.stderr(plan.joined(separator: "\n") + "\nProceed? [y/N] ")
        guard let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces).lowercased() else {
            Output.stderr("\n")
            return false
        }
        return answer == "y" || answer == "yes"
    }

    /// Runs `body` while a spinner with `label()` (read on every frame) and the elapsed seconds
    /// turns on stderr, when stderr is a terminal; otherwise just runs it.
    static func withSpinner<T>(_ label: @escaping @Sendable () -> String, _ body: () async throws -> T) async throws -> T {
        guard stderrIsTerminal else { return try await body() }
        let spinner = Task {
            let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
            let started = ContinuousClock.now
            var frame = 0
            while !Task.isCancelled {
                let elapsed = (ContinuousClock.now - started).components.seconds
                Output.stderr("\r\u{1B}[2K\(frames[frame % frames.count]) \(label()) (\(elapsed)s)")
                frame += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
            Output.stderr("\r\u{1B}[2K")
        }
        do {
            let result = try await body()
            spinner.cancel()
            await spinner.value
            return result
        } catch {
            spinner.cancel()
            await spinner.value
            throw error
        }
    }
}
