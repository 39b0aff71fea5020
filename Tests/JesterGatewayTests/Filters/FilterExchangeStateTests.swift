import JesterGateway
import Testing

/// The per-request state filters keep in a ``FilterExchange``: one filter's state sits in a slot
/// of its own, more filters' in a dictionary; each is found, replaced and removed by its key.
@Suite struct FilterExchangeStateTests {
    final class Box {
        let name: String
        init(_ name: String) { self.name = name }
    }

    @Test func eachFilterFindsItsOwnStateAndRemovingOneKeepsTheOthers() {
        let exchange = FilterTests.exchange()
        let (a, b, c) = (Box("a"), Box("b"), Box("c"))
        let (keyA, keyB, keyC) = (ObjectIdentifier(a), ObjectIdentifier(b), ObjectIdentifier(c))
        #expect(exchange.state(for: keyA) == nil)

        exchange.setState(a, for: keyA)
        exchange.setState(b, for: keyB)
        exchange.setState(c, for: keyC)
        #expect((exchange.state(for: keyA) as? Box)?.name == "a")
        #expect((exchange.state(for: keyB) as? Box)?.name == "b")
        #expect((exchange.state(for: keyC) as? Box)?.name == "c")

        exchange.setState(Box("b2"), for: keyB)
        #expect((exchange.state(for: keyB) as? Box)?.name == "b2")

        exchange.setState(nil, for: keyA)
        #expect(exchange.state(for: keyA) == nil)
        #expect((exchange.state(for: keyB) as? Box)?.name == "b2")
        #expect((exchange.state(for: keyC) as? Box)?.name == "c")

        // A key already stored in the dictionary stays there when the first slot is free.
        exchange.setState(Box("c2"), for: keyC)
        #expect((exchange.state(for: keyC) as? Box)?.name == "c2")
        exchange.setState(nil, for: keyC)
        #expect(exchange.state(for: keyC) == nil)

        exchange.setState(a, for: keyA)
        #expect((exchange.state(for: keyA) as? Box)?.name == "a")
        exchange.setState(nil, for: keyB)
        exchange.setState(nil, for: keyA)
        #expect(exchange.state(for: keyA) == nil && exchange.state(for: keyB) == nil)
    }
}
