// A minimal test runner for the Kotlin tests of the ferrite UniFFI bindings: no JUnit
// jar needed, one kotlinc invocation compiles everything (see tests/foreign.rs).

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

val FX = File(System.getenv("FERRITE_FIXTURES") ?: error("FERRITE_FIXTURES is not set"))

fun lines(name: String): List<String> = File(FX, name).readLines().filter { it.isNotEmpty() }

/** A reference fact written by the Rust harness with the runtime (`harness.txt`). */
fun fact(key: String): String = lines("harness.txt").first { it.startsWith("$key=") }.substringAfter("=")

fun inputs(): List<List<Float>> = lines("inputs.csv").map { l -> l.split(",").map { it.toFloat() } }

fun hex(b: ByteArray): String = b.joinToString("") { "%02x".format(it) }

fun unhex(s: String): ByteArray = ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }

/** The little-endian bytes of `v`, as hex: exact float comparison. */
fun f32Hex(v: List<Float>): String {
    val b = ByteBuffer.allocate(4 * v.size).order(ByteOrder.LITTLE_ENDIAN)
    v.forEach { b.putFloat(it) }
    return hex(b.array())
}

fun <T> eq(actual: T, expected: T, what: String = "") {
    if (actual != expected) throw AssertionError("$what: expected <$expected>, got <$actual>")
}

fun check(cond: Boolean, what: () -> String) {
    if (!cond) throw AssertionError(what())
}

inline fun <reified E : Throwable> throws(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.qualifiedName}, got $e")
    }
    throw AssertionError("expected ${E::class.qualifiedName}, nothing was thrown")
}

val tests = linkedMapOf<String, () -> Unit>()

fun test(name: String, body: () -> Unit) {
    tests[name] = body
}

/** Runs every registered test; prints `kotlin: N passed, M failed`; exit 1 on failure. */
fun runAll() {
    var passed = 0
    var failed = 0
    for ((name, body) in tests) {
        try {
            body()
            passed++
            println("test $name ... ok")
        } catch (e: Throwable) {
            failed++
            println("test $name ... FAILED: $e")
            e.printStackTrace(System.out)
        }
    }
    println("kotlin: $passed passed, $failed failed")
    kotlin.system.exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
