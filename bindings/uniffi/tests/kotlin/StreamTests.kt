// Streaming (`Stream.step` / `reset`) from Kotlin. Two models:
// - the fixtures' one-frame RNN (`stream.fer`): six steps equal, bit for bit, the last
//   step of the whole-sequence model the Rust runtime ran (as the C, WASM and Python tests);
// - a torch GRU exported to ONNX (examples/recurrent/gru_uni_1l_state.onnx), converted by
//   the `ferrite` CLI twice (tests/foreign.rs): the whole 20-step sequence, and one step
//   with the state pair `--state initial_h=h_n`. Twenty steps equal the whole-sequence
//   file and onnxruntime's logits within 1e-5; `reset()` restarts; without it the state
//   carries into the next sequence, whose onnxruntime reference started from row 0's h_n.

import dev.ferrite.*
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

val RECURRENT = File(System.getenv("FERRITE_RECURRENT") ?: error("FERRITE_RECURRENT is not set"))
val EXAMPLES = File(System.getenv("FERRITE_EXAMPLES") ?: error("FERRITE_EXAMPLES is not set"))

fun f32s(bytes: ByteArray): FloatArray {
    val b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
    return FloatArray(bytes.size / 4) { b.getFloat() }
}

fun f32Bytes(v: List<Float>): ByteArray {
    val b = ByteBuffer.allocate(4 * v.size).order(ByteOrder.LITTLE_ENDIAN)
    v.forEach { b.putFloat(it) }
    return b.array()
}

/** A little-endian float32, C-order `.npy` file (format 1.0): its shape and values. */
fun npy(file: File): Pair<List<Int>, FloatArray> {
    val bytes = file.readBytes()
    check(String(bytes, 1, 5, Charsets.US_ASCII) == "NUMPY" && bytes[6].toInt() == 1) { "$file: not .npy 1.0" }
    val headerLen = (bytes[8].toInt() and 0xff) or ((bytes[9].toInt() and 0xff) shl 8)
    val header = String(bytes, 10, headerLen, Charsets.US_ASCII)
    check(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False")) { "$file: $header" }
    val shape = Regex("""'shape': \(([^)]*)\)""").find(header)!!.groupValues[1]
        .split(",").map { it.trim() }.filter { it.isNotEmpty() }.map { it.toInt() }
    val values = f32s(bytes.copyOfRange(10 + headerLen, bytes.size))
    eq(values.size, shape.fold(1) { a, b -> a * b }, "$file elements")
    return shape to values
}

fun near(actual: List<Float>, expected: List<Float>, tol: Float, what: String) {
    eq(actual.size, expected.size, "$what length")
    actual.zip(expected).forEachIndexed { i, (a, e) ->
        check(Math.abs(a - e) <= tol) { "$what[$i]: $a vs $e (tolerance $tol)" }
    }
}

fun registerStreamTests() {
    test("stream_steps_equal_the_whole_sequence") {
        val frames = f32s(File(FX, "stream_frames.bin").readBytes()).toList()
        val expected = File(FX, "stream_expected.bin").readBytes().copyOfRange(0, 16)
        load("stream.fer").use { m ->
            Stream(m).use { s ->
                eq(s.numStates(), 1u, "state pairs")
                repeat(2) { round ->
                    var y = listOf<Float>()
                    for (t in 0 until 6) y = s.step(frames.subList(3 * t, 3 * t + 3))
                    eq(hex(f32Bytes(y)), hex(expected), "round $round: last step")
                    s.reset()
                }
                check(s.step(frames.subList(0, 3)) != s.step(frames.subList(0, 3))) { "the state carries" }
                throws<FerriteException.WrongLength> { s.step(listOf(1.0f)) }
            }
            Stream(load("mlp_f32.fer")).use { eq(it.numStates(), 0u, "a model without state") }
        }
    }

    test("torch_gru_stream_equals_the_whole_sequence_and_onnxruntime") {
        val (seqShape, seqs) = npy(File(EXAMPLES, "sequences.npy"))
        eq(seqShape, listOf(4, 20, 1, 6), "sequences.npy shape")
        val (_, ort) = npy(File(EXAMPLES, "gru_uni_1l_state_ort_logits.npy"))
        val (_, h0) = npy(File(EXAMPLES, "gru_uni_1l_state_h0.npy"))
        val row = { r: Int -> seqs.toList().subList(r * 120, (r + 1) * 120) }
        val frame = { r: Int, t: Int -> row(r).subList(6 * t, 6 * t + 6) }
        val ortLogits = { r: Int -> ort.toList().subList(4 * r, 4 * r + 4) }
        // The whole-sequence file (inputs sequence [20,1,6], initial_h [1,1,16]) on rows
        // 0 and 1, each with the h0 onnxruntime was given.
        val whole = Model.fromFile(File(RECURRENT, "gru_whole.fer").path).use { m ->
            (0..1).map { r ->
                val h = h0.toList().subList(16 * r, 16 * (r + 1))
                f32s(m.runTensors(listOf(f32Bytes(row(r)), f32Bytes(h)))[0]).toList()
            }
        }
        near(whole[0], ortLogits(0), 1e-5f, "whole sequence vs onnxruntime, row 0")
        near(whole[1], ortLogits(1), 1e-5f, "whole sequence vs onnxruntime, row 1")
        Model.fromFile(File(RECURRENT, "gru_stream.fer").path).use { m ->
            Stream(m).use { s ->
                eq(s.numStates(), 1u, "state pairs")
                repeat(2) { round ->
                    var y = listOf<Float>()
                    for (t in 0 until 20) y = s.step(frame(0, t))
                    near(y, whole[0], 1e-5f, "round $round: 20 steps vs the whole sequence")
                    near(y, ortLogits(0), 1e-5f, "round $round: 20 steps vs onnxruntime")
                    s.reset()
                }
                // Without a reset the state carries: row 1 continues row 0's stream
                // (its onnxruntime h0 is row 0's h_n).
                for (t in 0 until 20) s.step(frame(0, t))
                var y = listOf<Float>()
                for (t in 0 until 20) y = s.step(frame(1, t))
                near(y, whole[1], 1e-5f, "continued stream vs the whole sequence, row 1")
                near(y, ortLogits(1), 1e-5f, "continued stream vs onnxruntime, row 1")
                val fresh = Stream(m).use { f -> (0 until 20).map { t -> f.step(frame(1, t)) }.last() }
                // A fresh stream on row 1 alone misses onnxruntime by more than the
                // tolerance: matching it above needed the carried state.
                check(fresh.zip(ortLogits(1)).any { (a, b) -> Math.abs(a - b) > 1e-5f }) {
                    "a fresh stream on row 1 also matches onnxruntime: $fresh"
                }
                throws<FerriteException.WrongLength> { s.step(frame(0, 0).subList(0, 5)) }
            }
        }
    }
}
