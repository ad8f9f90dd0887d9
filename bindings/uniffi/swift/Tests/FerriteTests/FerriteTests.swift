// Swift tests of the ferrite bindings (macOS: `swift test`, see ../../../README.md).
// The fixtures are the Rust runtime's own outputs, written by
// `cargo run -p ferrite --example fixtures -- <dir>` (build-xcframework.sh writes them
// to Tests/FerriteTests/Fixtures; FERRITE_FIXTURES overrides the directory).

import Dispatch
import Ferrite
import Foundation
import XCTest

final class FerriteTests: XCTestCase {
    static let fixtures: URL = {
        if let dir = ProcessInfo.processInfo.environment["FERRITE_FIXTURES"] {
            return URL(fileURLWithPath: dir)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }()

    static let labelNames = ["north", "east", "south", "west"]

    func path(_ name: String) -> String {
        return Self.fixtures.appendingPathComponent(name).path
    }

    func lines(_ name: String) throws -> [String] {
        let text = try String(contentsOfFile: path(name), encoding: .utf8)
        return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    func inputs() throws -> [[Float]] {
        return try lines("inputs.csv").map { line in line.split(separator: ",").map { Float(String($0))! } }
    }

    func hex(_ data: Data) -> String {
        return data.map { String(format: "%02x", $0) }.joined()
    }

    func unhex(_ s: String) -> Data {
        var bytes = [UInt8]()
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            bytes.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return Data(bytes)
    }

    /// Little-endian bytes of the floats, as hex: exact comparison.
    func f32Hex(_ values: [Float]) -> String {
        var data = Data()
        for v in values {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return hex(data)
    }

    func load(_ name: String) throws -> Model {
        return try Model.fromFile(path: path(name))
    }

    func testInfo() throws {
        let info = try load("mlp_f32.fer").info()
        XCTAssertEqual(info.metadata.name, "fixture-mlp-f32")
        XCTAssertEqual(info.labels, Self.labelNames)
        XCTAssertEqual(info.inputs.count, 1)
        XCTAssertEqual(info.inputs[0].name, "x")
        XCTAssertEqual(info.inputs[0].dtype, .f32)
        XCTAssertEqual(info.inputs[0].shape, [1, 16])
        XCTAssertEqual(info.outputs[0].shape, [1, 4])
        XCTAssertGreaterThan(info.arenaSize, 0)
        let raw = try load("mlp_int8_raw.fer").info()
        XCTAssertEqual(raw.inputs[0].quantization, Quantization.perTensor(scale: 2.0 / 255.0, zeroPoint: 0))
    }

    func checkPredictions(_ model: String, _ short: String, column: Int) throws {
        let m = try load(model)
        let hexes = try lines("expected_\(short).hex")
        let labels = try lines("labels.txt").map { Int($0.split(separator: " ")[column])! }
        for (i, row) in try inputs().enumerated() {
            let p = try m.predict(features: row)
            XCTAssertEqual(f32Hex(p.scores), hexes[i], "\(model) row \(i)")
            XCTAssertEqual(p.label, UInt32(labels[i]))
            XCTAssertEqual(p.labelName, Self.labelNames[labels[i]])
        }
        let batch = try m.predictBatch(rows: try inputs())
        XCTAssertEqual(batch.map { f32Hex($0.scores) }, hexes)
    }

    func testPredictF32EqualsTheRuntime() throws {
        try checkPredictions("mlp_f32.fer", "f32", column: 0)
    }

    func testPredictInt8EqualsTheRuntime() throws {
        try checkPredictions("mlp_int8.fer", "int8", column: 1)
    }

    func testRunRawEqualsTheRuntime() throws {
        let m = try load("mlp_int8_raw.fer")
        for (i, o) in zip(try lines("raw_inputs.hex"), try lines("expected_int8_raw.hex")) {
            XCTAssertEqual(hex(try m.runRaw(input: unhex(i))), o)
        }
    }

    func testPreprocessIsIdentityWithoutAPipeline() throws {
        let m = try load("mlp_f32.fer")
        let row = try inputs()[3]
        XCTAssertEqual(f32Hex(try m.preprocess(raw: row)), f32Hex(row))
    }

    func testGoldenVectorsOfAModelWithoutThem() throws {
        XCTAssertEqual(try load("mlp_f32.fer").checkGolden(), 0)
    }

    func testErrors() throws {
        XCTAssertThrowsError(try Model.fromBytes(bytes: Data("this is not a model at all, really".utf8))) { error in
            guard case let FerriteError.InvalidModel(code, reason) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(code, 1)
            XCTAssertEqual(reason, "not a ferrite model (bad magic)")
        }
        var corrupt = try Data(contentsOf: URL(fileURLWithPath: path("mlp_f32.fer")))
        corrupt[corrupt.count / 2] ^= 0xff
        XCTAssertThrowsError(try Model.fromBytes(bytes: corrupt)) { error in
            guard case let FerriteError.InvalidModel(code, _) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(code, 4)
        }
        XCTAssertThrowsError(try Model.fromFile(path: "/nonexistent/model.fer")) { error in
            guard case let FerriteError.Io(code, _, path) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(code, 1000)
            XCTAssertEqual(path, "/nonexistent/model.fer")
        }
        let m = try load("mlp_f32.fer")
        XCTAssertThrowsError(try m.predict(features: [0.5, 0.5, 0.5])) { error in
            guard case let FerriteError.WrongLength(code, _, expected, actual) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual([UInt64(code), expected, actual], [14, 16, 3])
        }
        var row = [Float](repeating: 0.5, count: 16)
        row[7] = .nan
        XCTAssertThrowsError(try m.predict(features: row)) { error in
            guard case let FerriteError.InvalidInput(code, _, feature) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(code, 16)
            XCTAssertEqual(feature, 7)
        }
    }

    func testConcurrentPredictEqualsSequential() throws {
        let m = try load("mlp_int8.fer")
        let rows = try inputs()
        let reference = try rows.map { f32Hex(try m.predict(features: $0).scores) }
        let lock = NSLock()
        var mismatches = 0
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for k in 0..<200 {
                let i = (t + k) % rows.count
                let got = (try? m.predict(features: rows[i])).map { f32Hex($0.scores) }
                if got != reference[i] {
                    lock.lock()
                    mismatches += 1
                    lock.unlock()
                }
            }
        }
        XCTAssertEqual(mismatches, 0)
    }
}
