import ArgumentParser
import Foundation

/// `zgproxy`: an OpenAI-compatible gateway to the 0G Compute Network, and the tools to run it.
@main
struct ZGProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zgproxy",
        abstract: "An OpenAI-compatible gateway to the 0G Compute Network.",
        discussion: """
            Settings come from the environment and a .env file in the working directory (see .env.example): \
            ZG_NETWORK (mainnet | testnet | custom) or ZG_CHAIN_RPC, ZG_LEDGER_CONTRACT and ZG_INFERENCE_CONTRACT for \
            custom networks, and PRIVATE_KEY, the wallet that pays. With no network set, `serve` starts a local sandbox \
            so everything works offline; the other commands then ask you to configure one.

            Every command but serve takes --json (one JSON object on stdout, its shape in the command's help) and \
            --env-file. Commands that send transactions ask before sending; --yes skips the question.

            Exit codes: 0 success, 64 usage or configuration, 65 refused by the chain (revert, contract rule), \
            66 insufficient funds, 69 network (RPC or provider unreachable), 1 anything else.
            """,
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, LedgerCommand.self, ProvidersCommand.self, TokenCommand.self, ChatCommand.self, DoctorCommand.self,
            KeysCommand.self, UsersCommand.self, UsageCommand.self,
        ]
    )

    /// Parses and runs the command like ArgumentParser's own `main`, but reports the package's
    /// errors as one `error: …` line on stderr with the exit code of ``CLIFailure``.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // ArgumentParser's own errors (help, usage, ExitCode) are reported by ArgumentParser.
            guard let failure = CLIFailure.mapping(error) else { exit(withError: error) }
            FileHandle.standardError.write(Data("error: \(failure.message)\n".utf8))
            exit(withError: ExitCode(failure.exitCode))
        }
    }
}
