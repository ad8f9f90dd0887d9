// Kotlin tests of the ferrite UniFFI bindings, run on the JVM with JNA against the host
// cdylib by `cargo test -p ferrite-uniffi`. Every expected value comes from the Rust
// runtime (the fixtures of `cargo run -p ferrite --example fixtures` and harness.txt).

import dev.ferrite.*
import java.io.File
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

val LABELS = listOf("north", "east", "south", "west")

fun load(name: String): Model = Model.fromFile(File(FX, name).path)

fun predictsLikeTheRuntime(model: String, short: String, column: Int) {
    load(model).use { m ->
        val hexes = lines("expected_$short.hex")
        val csv = lines("expected_$short.csv")
        val labels = lines("labels.txt").map { it.split(" ")[column].toInt() }
        val rows = inputs()
        eq(rows.size, 8, "rows")
        rows.forEachIndexed { i, row ->
            val p = m.predict(row)
            eq(f32Hex(p.scores), hexes[i], "$model row $i bytes")
            eq(p.scores, csv[i].split(",").map { it.toFloat() }, "$model row $i csv")
            eq(p.label, labels[i].toUInt(), "$model row $i label")
            eq(p.labelName, LABELS[labels[i]], "$model row $i label name")
        }
    }
}

fun registerTests() {
    test("load_from_bytes_and_from_file_give_the_same_model") {
        val a = Model.fromBytes(File(FX, "mlp_f32.fer").readBytes())
        val b = load("mlp_f32.fer")
        eq(a.info(), b.info(), "info")
        eq(a.predict(inputs()[0]), b.predict(inputs()[0]), "prediction")
        a.close()
        b.close()
        check(ferriteVersion().matches(Regex("""\d+\.\d+\.\d+.*"""))) { ferriteVersion() }
    }

    test("info_matches_the_runtime") {
        val info = load("mlp_f32.fer").info()
        eq(info.metadata.name, "fixture-mlp-f32")
        eq(info.metadata.version, "1")
        eq(info.labels, LABELS)
        eq(info.inputs.size, 1)
        val x = info.inputs[0]
        eq(x.name, "x")
        eq(x.dtype, DType.F32)
        eq(x.shape, listOf(1u, 16u))
        eq(x.elements, 16uL)
        eq(x.byteLen, 64uL)
        eq(x.quantization, null)
        eq(info.outputs[0].name, "probs")
        eq(info.outputs[0].shape, listOf(1u, 4u))
        eq(info.arenaSize, fact("mlp_f32.arena_size").toULong(), "arena size")
        eq(info.fileSize, fact("mlp_f32.file_size").toULong(), "file size")
        eq(info.numGolden, 0u)
        eq(info.hasPreprocessing, false)
        val raw = load("mlp_int8_raw.fer").info()
        eq(raw.inputs[0].dtype, DType.I8)
        eq(raw.inputs[0].quantization, Quantization.PerTensor(2.0f / 255.0f, 0))
        eq(raw.arenaSize, fact("mlp_int8_raw.arena_size").toULong(), "int8 arena size")
    }

    test("metadata_and_properties") {
        val info = load("golden.fer").info()
        val m = info.metadata
        eq(listOf(m.name, m.version, m.description, m.producer), listOf("harness-small", "2.1", "harness model", "ferrite-uniffi tests"))
        eq(m.properties, mapOf("precision" to "f32", "source" to "harness"))
        eq(info.labels, listOf("a", "b", "c"))
        eq(info.numGolden.toString(), fact("golden.num_golden"))
        eq(info.arenaSize.toString(), fact("golden.arena_size"))
    }

    test("f32_scores_equal_the_runtime_bytes") { predictsLikeTheRuntime("mlp_f32.fer", "f32", 0) }

    test("int8_scores_equal_the_runtime_bytes") { predictsLikeTheRuntime("mlp_int8.fer", "int8", 1) }

    test("predict_batch_equals_predict") {
        val m = load("mlp_int8.fer")
        val batch = m.predictBatch(inputs())
        eq(batch, inputs().map { m.predict(it) }, "batch")
        eq(batch.map { f32Hex(it.scores) }, lines("expected_int8.hex"), "batch bytes")
        eq(m.predictBatch(emptyList()), emptyList<Prediction>())
    }

    test("run_raw_equals_the_runtime_int8_bytes") {
        val m = load("mlp_int8_raw.fer")
        lines("raw_inputs.hex").zip(lines("expected_int8_raw.hex")).forEach { (i, o) ->
            eq(hex(m.runRaw(unhex(i))), o)
        }
    }

    test("run_tensors_with_two_inputs_and_outputs") {
        val m = load("two_inputs.fer")
        val out = m.runTensors(listOf(unhex(fact("two_inputs.a")), unhex(fact("two_inputs.b"))))
        eq(out.map { hex(it) }, listOf(fact("two_inputs.sum"), fact("two_inputs.prod")))
        eq(throws<FerriteException.Unsupported> { m.predict(List(4) { 0f }) }.code, 19u)
        val e = throws<FerriteException.WrongLength> { m.runTensors(listOf(ByteArray(16))) }
        eq(Pair(e.expected, e.actual), Pair(2uL, 1uL))
    }

    test("golden_vectors") {
        eq(load("golden.fer").checkGolden(), 2u)
        eq(load("mlp_f32.fer").checkGolden(), 0u)
        val e = throws<FerriteException.GoldenMismatch> { load("golden_bad.fer").checkGolden() }
        eq(Pair(e.code, e.index), Pair(17u, 1u))
        eq(e.reason, "golden vector 1 did not reproduce")
    }

    test("preprocess_is_identity_without_a_preprocessing_section") {
        val m = load("mlp_f32.fer")
        val row = inputs()[3]
        eq(f32Hex(m.preprocess(row)), f32Hex(row))
        val e = throws<FerriteException.WrongLength> { m.preprocess(List(3) { 1f }) }
        eq(Pair(e.expected, e.actual), Pair(16uL, 3uL))
    }

    test("corrupt_model") {
        val data = File(FX, "mlp_f32.fer").readBytes()
        data[data.size / 2] = (data[data.size / 2].toInt() xor 0xff).toByte()
        val e = throws<FerriteException.InvalidModel> { Model.fromBytes(data) }
        eq(e.code, 4u)
        check(e.reason.startsWith("model corrupted: CRC-32")) { e.reason }
        check(e is FerriteException) { "not a FerriteException" }
    }

    test("verified_load_with_the_right_key_predicts_like_the_runtime") {
        val key = File(FX, "release.pub").readBytes()
        val signed = File(FX, "signed.fer").readBytes()
        Model.fromBytesVerified(signed, listOf(key), 0uL).use { m ->
            val hexes = lines("expected_f32.hex")
            inputs().forEachIndexed { i, row -> eq(f32Hex(m.predict(row).scores), hexes[i], "signed row $i") }
            val s = m.signature() ?: error("no signature")
            eq(hex(s.keyId), hex(key.copyOf(8)))
            eq(s.modelVersion, 7uL)
        }
        // Key rotation: the right key second of two; the minimum equal to the version.
        Model.fromBytesVerified(signed, listOf(File(FX, "other.pub").readBytes(), key), 7uL).close()
        load("mlp_f32.fer").use { eq(it.signature(), null) }
    }

    test("verified_load_refusals_are_distinct_errors") {
        val key = File(FX, "release.pub").readBytes()
        val signed = File(FX, "signed.fer").readBytes()
        val other = File(FX, "other.pub").readBytes()
        eq(throws<FerriteException.UnknownKey> { Model.fromBytesVerified(signed, listOf(other), 0uL) }.code, 23u)
        eq(throws<FerriteException.UnknownKey> { Model.fromBytesVerified(signed, listOf(), 0uL) }.code, 23u)
        val flipped = File(FX, "signed_flipped.fer").readBytes()
        eq(throws<FerriteException.BadSignature> { Model.fromBytesVerified(flipped, listOf(key), 0uL) }.code, 18u)
        // Unverified, the same bytes fail the CRC: the flip is inside the checked body.
        eq(throws<FerriteException.InvalidModel> { Model.fromBytes(flipped) }.code, 4u)
        val plain = File(FX, "mlp_f32.fer").readBytes()
        eq(throws<FerriteException.Unsigned> { Model.fromBytesVerified(plain, listOf(key), 0uL) }.code, 22u)
        val old = throws<FerriteException.VersionTooOld> { Model.fromBytesVerified(signed, listOf(key), 8uL) }
        eq(Triple(old.code, old.version, old.minVersion), Triple(24u, 7uL, 8uL))
        val short = throws<FerriteException.WrongLength> { Model.fromBytesVerified(signed, listOf(key.copyOf(31)), 0uL) }
        eq(Pair(short.expected, short.actual), Pair(32uL, 31uL))
    }

    test("truncated_model") {
        val data = File(FX, "mlp_f32.fer").readBytes()
        val e = throws<FerriteException.InvalidModel> { Model.fromBytes(data.copyOf(data.size - 10)) }
        eq(e.code, 3u)
        eq(e.reason, "model truncated: expected ${data.size} bytes, got ${data.size - 10}")
        eq(throws<FerriteException.InvalidModel> { Model.fromBytes(data.copyOf(2)) }.code, 3u)
        eq(throws<FerriteException.InvalidModel> { Model.fromBytes(ByteArray(0)) }.code, 3u)
    }

    test("not_a_model") {
        val e = throws<FerriteException.InvalidModel> { Model.fromBytes("this is not a model at all, really".toByteArray()) }
        eq(e.code, 1u)
        eq(e.reason, "not a ferrite model (bad magic)")
    }

    test("missing_file") {
        val e = throws<FerriteException.Io> { Model.fromFile("/nonexistent/model.fer") }
        eq(e.code, 1000u)
        eq(e.path, "/nonexistent/model.fer")
        check(e.reason.contains("/nonexistent/model.fer")) { e.reason }
    }

    test("wrong_length") {
        val e = throws<FerriteException.WrongLength> { load("mlp_f32.fer").predict(List(3) { 0.5f }) }
        eq(Triple(e.code, e.expected, e.actual), Triple(14u, 16uL, 3uL))
        eq(e.reason, "wrong length: expected 16 values, got 3")
        val r = throws<FerriteException.WrongLength> { load("mlp_int8_raw.fer").runRaw(ByteArray(15)) }
        eq(Pair(r.expected, r.actual), Pair(16uL, 15uL))
    }

    test("nan_and_infinity") {
        val m = load("mlp_f32.fer")
        val row = MutableList(16) { 0.5f }
        row[7] = Float.NaN
        val e = throws<FerriteException.InvalidInput> { m.predict(row) }
        eq(Pair(e.code, e.feature), Pair(16u, 7u))
        eq(e.reason, "invalid value in input feature 7")
        row[7] = 0f
        row[2] = Float.NEGATIVE_INFINITY
        eq(throws<FerriteException.InvalidInput> { m.predict(row) }.feature, 2u)
        val b = throws<FerriteException.InvalidInput> { m.predictBatch(listOf(List(16) { 0f }, List(16) { 0f }, row)) }
        eq(b.reason, "row 2: invalid value in input feature 2")
    }

    test("concurrent_predict_equals_sequential") {
        load("mlp_int8.fer").use { m ->
            val rows = inputs()
            val reference = rows.map { f32Hex(m.predict(it).scores) }
            val pool = Executors.newFixedThreadPool(8)
            val start = CountDownLatch(1)
            val futures = (0 until 8).map { t ->
                pool.submit<List<String>> {
                    start.await()
                    (0 until 200).mapNotNull { k ->
                        val i = (t + k) % rows.size
                        val got = f32Hex(m.predict(rows[i]).scores)
                        if (got != reference[i]) "thread $t call $k row $i: $got" else null
                    }
                }
            }
            start.countDown()
            val failures = futures.flatMap { it.get(120, TimeUnit.SECONDS) }
            pool.shutdown()
            eq(failures, emptyList<String>(), "concurrent predictions")
        }
    }

    // monitor.fer: baseline of 400 rows uniform on [0, 1) (4 bins per feature); rows drawn
    // uniformly stay stable, feature 0 shifted by one standard deviation (0.29) is flagged.
    test("monitor_flags_a_shifted_feature") {
        load("monitor.fer").use { m ->
            var s = 7u
            fun u(): Float {
                s = s * 1664525u + 1013904223u
                return (s shr 8).toFloat() / 16777216f
            }
            Monitor(m, 0u).use { mon ->
                repeat(2000) { mon.predict(listOf(u(), u())) }
                var r = mon.report()
                eq(r.rows, 2000uL, "rows")
                eq(r.features.map { it.name }, listOf("a", "b"), "names")
                r.features.forEach { check(!it.drift.flagged && it.drift.psi < 0.1) { "stable: $it" } }
                eq(r.latency.count, 2000u, "latency count")
                mon.reset()
                repeat(2000) { mon.predict(listOf(u() + 0.29f, u())) }
                r = mon.report()
                val f0 = r.features[0].drift
                check(f0.flagged && f0.psi > 0.25 && f0.level == DriftLevel.SHIFTED && f0.pValue < 1e-6) { "$f0" }
                check(r.features[0].outOfRange > 400u) { "${r.features[0]}" }
                check(!r.features[1].drift.flagged && r.features[1].drift.psi < 0.1) { "${r.features[1]}" }
                check(mon.snapshot().size in 21..999) { "snapshot" }
            }
        }
        load("mlp_f32.fer").use { m ->
            try {
                Monitor(m, 0u)
                throw AssertionError("a model without a baseline was monitored")
            } catch (e: FerriteException.Runtime) {
                eq(e.code, 20u, "NoBaseline code")
            }
        }
    }
}

fun main() {
    registerTests()
    registerStreamTests()
    runAll()
}
