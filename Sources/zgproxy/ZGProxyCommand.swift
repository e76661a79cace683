import ArgumentParser

/// `zgproxy`: an OpenAI-compatible gateway to the 0G Compute Network, and the tools to run it.
@main
struct ZGProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zgproxy",
        abstract: "An OpenAI-compatible gateway to the 0G Compute Network.",
        discussion: """
            Settings come from the environment and a .env file in the working directory (see .env.example).
            With no ZG_NETWORK or ZG_CHAIN_RPC set, `serve` starts a local sandbox network so everything works offline.
            """,
        version: "0.1.0",
        subcommands: [ServeCommand.self],
        defaultSubcommand: nil
    )
}
