import EVM
import Testing

@Suite("UInt256 and decimal amounts")
struct IntegerAndAmountTests {
    @Test("arithmetic, shifts and division agree with known values")
    func arithmetic() {
        let max = UInt256.max
        #expect(max.description == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        #expect(max.addingReportingOverflow(1).overflow)
        #expect(UInt256.zero.subtractingReportingOverflow(1).overflow)
        let big = UInt256(decimal: "340282366920938463463374607431768211456")!  // 2^128
        #expect(big.doubleValue == 0x1p128 && UInt256(123_456_789).doubleValue == 123_456_789 && max.doubleValue == 0x1p256)
        #expect(big == UInt256.one << 128)
        #expect(big.multipliedReportingOverflow(by: big).overflow)
        let dividend = UInt256(decimal: "98765432109876543210987654321098765432109876543210")!
        let divisor = UInt256(decimal: "1234567890123456789012345678901")!
        let (q, r) = dividend.quotientAndRemainder(dividingBy: divisor)
        #expect(q * divisor + r == dividend)
        #expect(r < divisor)
        #expect(q.description == "80000000729000006633")
        #expect((max >> 255) == .one)
        #expect(((UInt256.one << 255) >> 255) == .one)
        #expect(UInt256(hex: "0x0")! == .zero)
        #expect(UInt256(hex: "0xff")!.quantityHex == "0xff")
        #expect(UInt256(hex: "0x" + String(repeating: "f", count: 65)) == nil)
        #expect(UInt256(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639936") == nil)
    }

    @Test("0G amounts parse and print exactly (vectors from Python's Decimal)")
    func amounts() throws {
        let file = try Vectors.load("amounts.json")
        for vector in try Vectors.list(file, "valid") {
            let text = vector["text"] as! String
            let neuron = try Vectors.uint(vector["neuron"])
            #expect(try UInt256(decimalUnits: text, decimals: 18) == neuron, "\(text)")
            #expect(neuron.decimalUnits(decimals: 18) == vector["canonical"] as? String)
        }
        for vector in try Vectors.list(file, "invalid") {
            let text = vector["text"] as! String
            #expect(throws: DecimalAmountError.self, "\(text) should be refused") {
                try UInt256(decimalUnits: text, decimals: 18)
            }
        }
    }
}
