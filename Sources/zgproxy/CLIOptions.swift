import ArgumentParser
import EVM
import ZGBroker

/// Options every command except `serve` takes: where settings come from and the output form.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Path of the .env file; a missing file is ignored.", valueName: "path"))
    var envFile: String = ".env"

    @Flag(help: "Print one JSON object on stdout (its shape is in the command's help).")
    var json = false
}

/// `--yes`, for the commands that send transactions (they move funds or spend gas).
struct ConfirmOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "Do not ask for confirmation (required when stdin is not a terminal).")
    var yes = false
}

/// `--neuron`, for the commands that read or print amounts.
struct UnitOptions: ParsableArguments {
    @Flag(help: "Read and print amounts in neuron (10^-18 0G) instead of decimal 0G.")
    var neuron = false
}

/// Argument parsing shared by the commands, with the reason in the usage error.
enum Parse {
    /// A provider or wallet address, any case (checksums are checked when mixed case).
    static func address(_ text: String) throws -> Address {
        do {
            return try Address(hex: text)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// An amount in decimal 0G (`1.5`), or in neuron with `--neuron`; never zero.
    static func amount(_ text: String, neuron: Bool) throws(CLIFailure) -> UInt256 {
        let value: UInt256
        if neuron {
            guard let parsed = UInt256(decimal: text) else {
                throw .usage("invalid amount \"\(text)\": with --neuron the amount is a whole number of neuron")
            }
            value = parsed
        } else {
            do {
                value = try UInt256.zeroG(text)
            } catch {
                throw .usage(error.description + " (amounts are decimal 0G such as 1.5; use --neuron for neuron)")
            }
        }
        guard !value.isZero else { throw .usage("the amount must be more than 0") }
        return value
    }
}

/// A positive amount argument, checked while parsing so a typo is a usage error before any
/// network access.
struct AmountArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The amount, in decimal 0G (e.g. 1.5) or in neuron with --neuron.", valueName: "amount"))
    var text: String

    @OptionGroup var unit: UnitOptions

    func validate() throws {
        do {
            _ = try Parse.amount(text, neuron: unit.neuron)
        } catch {
            throw ValidationError(error.message)
        }
    }

    func value() throws(CLIFailure) -> UInt256 { try Parse.amount(text, neuron: unit.neuron) }
}
