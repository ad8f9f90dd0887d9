"""Python tests of the ferrite UniFFI bindings (run by `cargo test -p ferrite-uniffi`).

Needs `ferrite_uniffi.py` and `libferrite_uniffi.so` importable (PYTHONPATH) and
FERRITE_FIXTURES: the output of `cargo run -p ferrite --example fixtures` plus the
harness models of `tests/common/mod.rs`. Every expected value comes from the Rust
runtime through those files.
"""

import os
import struct
import sys
import threading
import unittest

from ferrite_uniffi import (
    DriftLevel,
    DType,
    FerriteError,
    Model,
    Monitor,
    Quantization,
    Stream,
    ferrite_version,
)

FX = os.environ["FERRITE_FIXTURES"]
LABELS = ["north", "east", "south", "west"]


def path(name):
    return os.path.join(FX, name)


def lines(name):
    with open(path(name)) as f:
        return [l for l in f.read().splitlines() if l]


def fact(key):
    return next(l.split("=", 1)[1] for l in lines("harness.txt") if l.startswith(key + "="))


def inputs():
    return [[float(v) for v in l.split(",")] for l in lines("inputs.csv")]


def f32_hex(values):
    return b"".join(struct.pack("<f", v) for v in values).hex()


def read(name):
    with open(path(name), "rb") as f:
        return f.read()


def load(name):
    return Model.from_file(path(name))


class Load(unittest.TestCase):
    def test_from_bytes_and_from_file_give_the_same_model(self):
        a = Model.from_bytes(read("mlp_f32.fer"))
        b = load("mlp_f32.fer")
        self.assertEqual(a.info(), b.info())
        self.assertEqual(a.predict(inputs()[0]), b.predict(inputs()[0]))

    def test_version(self):
        self.assertRegex(ferrite_version(), r"^\d+\.\d+\.\d+")


class Info(unittest.TestCase):
    def test_info_matches_the_runtime(self):
        info = load("mlp_f32.fer").info()
        self.assertEqual(info.metadata.name, "fixture-mlp-f32")
        self.assertEqual(info.metadata.version, "1")
        self.assertEqual(info.labels, LABELS)
        self.assertEqual(len(info.inputs), 1)
        x = info.inputs[0]
        self.assertEqual((x.name, x.dtype, x.shape, x.elements, x.byte_len), ("x", DType.F32, [1, 16], 16, 64))
        self.assertIsNone(x.quantization)
        y = info.outputs[0]
        self.assertEqual((y.name, y.dtype, y.shape), ("probs", DType.F32, [1, 4]))
        self.assertEqual(info.arena_size, int(fact("mlp_f32.arena_size")))
        self.assertEqual(info.file_size, int(fact("mlp_f32.file_size")))
        self.assertEqual(info.num_golden, 0)
        self.assertFalse(info.has_preprocessing)

    def test_quantized_io(self):
        info = load("mlp_int8_raw.fer").info()
        self.assertEqual(info.inputs[0].dtype, DType.I8)
        q = info.inputs[0].quantization
        self.assertTrue(q.is_per_tensor())
        self.assertEqual(struct.pack("<f", q.scale), struct.pack("<f", 2.0 / 255.0))
        self.assertEqual(q.zero_point, 0)
        self.assertEqual(info.arena_size, int(fact("mlp_int8_raw.arena_size")))

    def test_metadata_and_properties(self):
        info = load("golden.fer").info()
        m = info.metadata
        self.assertEqual((m.name, m.version, m.description, m.producer),
                         ("harness-small", "2.1", "harness model", "ferrite-uniffi tests"))
        self.assertEqual(m.properties, {"precision": "f32", "source": "harness"})
        self.assertEqual(info.labels, ["a", "b", "c"])
        self.assertEqual(info.num_golden, int(fact("golden.num_golden")))
        self.assertEqual(info.arena_size, int(fact("golden.arena_size")))


class Predict(unittest.TestCase):
    def check_model(self, model, short, column):
        m = load(model)
        hexes = lines(f"expected_{short}.hex")
        csv = lines(f"expected_{short}.csv")
        labels = [int(l.split(" ")[column]) for l in lines("labels.txt")]
        rows = inputs()
        self.assertEqual(len(rows), 8)
        for i, row in enumerate(rows):
            p = m.predict(row)
            self.assertEqual(f32_hex(p.scores), hexes[i], f"{model} row {i}")
            expected = [struct.unpack("<f", struct.pack("<f", float(v)))[0] for v in csv[i].split(",")]
            self.assertEqual(p.scores, expected)
            self.assertEqual(p.label, labels[i])
            self.assertEqual(p.label_name, LABELS[labels[i]])
        return m

    def test_f32_scores_equal_the_runtime_bytes(self):
        self.check_model("mlp_f32.fer", "f32", 0)

    def test_int8_scores_equal_the_runtime_bytes(self):
        self.check_model("mlp_int8.fer", "int8", 1)

    def test_predict_batch_equals_predict(self):
        m = load("mlp_int8.fer")
        batch = m.predict_batch(inputs())
        self.assertEqual(batch, [m.predict(r) for r in inputs()])
        self.assertEqual([f32_hex(p.scores) for p in batch], lines("expected_int8.hex"))
        self.assertEqual(m.predict_batch([]), [])

    def test_run_raw_equals_the_runtime_int8_bytes(self):
        m = load("mlp_int8_raw.fer")
        for i, o in zip(lines("raw_inputs.hex"), lines("expected_int8_raw.hex")):
            self.assertEqual(m.run_raw(bytes.fromhex(i)).hex(), o)

    def test_run_tensors_with_two_inputs_and_outputs(self):
        m = load("two_inputs.fer")
        out = m.run_tensors([bytes.fromhex(fact("two_inputs.a")), bytes.fromhex(fact("two_inputs.b"))])
        self.assertEqual([o.hex() for o in out], [fact("two_inputs.sum"), fact("two_inputs.prod")])
        with self.assertRaises(FerriteError.Unsupported) as e:
            m.predict([0.0] * 4)
        self.assertEqual(e.exception.code, 19)
        with self.assertRaises(FerriteError.WrongLength) as e:
            m.run_tensors([b"\0" * 16])
        self.assertEqual((e.exception.expected, e.exception.actual), (2, 1))

    def test_stream_steps_equal_the_whole_sequence(self):
        frames = struct.unpack("<18f", read("stream_frames.bin"))
        expected = read("stream_expected.bin")[:16]
        stream = Stream(load("stream.fer"))
        self.assertEqual(stream.num_states(), 1)
        for _ in range(2):
            for t in range(6):
                y = stream.step(list(frames[3 * t:3 * t + 3]))
            self.assertEqual(b"".join(struct.pack("<f", v) for v in y), expected)
            stream.reset()
        self.assertNotEqual(stream.step(list(frames[:3])), stream.step(list(frames[:3])))
        with self.assertRaises(FerriteError.WrongLength):
            stream.step([1.0])

    def test_golden_vectors(self):
        self.assertEqual(load("golden.fer").check_golden(), 2)
        self.assertEqual(load("mlp_f32.fer").check_golden(), 0)
        with self.assertRaises(FerriteError.GoldenMismatch) as e:
            load("golden_bad.fer").check_golden()
        self.assertEqual((e.exception.code, e.exception.index), (17, 1))
        self.assertEqual(e.exception.reason, "golden vector 1 did not reproduce")

    def test_preprocess_is_identity_without_a_preprocessing_section(self):
        m = load("mlp_f32.fer")
        row = inputs()[3]
        out = m.preprocess(row)
        self.assertEqual(f32_hex(out), f32_hex(row))
        # What predict sees after preprocess is what it sees without it.
        self.assertEqual(m.predict(out), m.predict(row))
        with self.assertRaises(FerriteError.WrongLength) as e:
            m.preprocess([1.0] * 3)
        self.assertEqual((e.exception.expected, e.exception.actual), (16, 3))

    def test_preprocess_equals_the_models_own_pipeline(self):
        m = load("pipeline_f32.fer")
        self.assertTrue(m.info().has_preprocessing)
        rows = [[float(v) for v in l.split(",")] for l in lines("inputs_nan.csv")]
        feats = [[float(v) for v in l.split(",")] for l in lines("expected_preprocess.csv")]
        scores = [[float(v) for v in l.split(",")] for l in lines("expected_pipeline.csv")]
        for row, f, s in zip(rows, feats, scores):
            self.assertEqual(f32_hex(m.preprocess(row)), f32_hex(f))
            # NaN is imputed by the pipeline, so predict accepts it.
            self.assertEqual(f32_hex(m.predict(row).scores), f32_hex(s))
        with self.assertRaises(FerriteError.WrongLength):
            m.preprocess([1.0] * 3)


class Errors(unittest.TestCase):
    def invalid(self, data, code):
        with self.assertRaises(FerriteError.InvalidModel) as e:
            Model.from_bytes(data)
        self.assertEqual(e.exception.code, code, e.exception.reason)
        self.assertIsInstance(e.exception, FerriteError)
        return e.exception

    def test_corrupt_model(self):
        data = bytearray(read("mlp_f32.fer"))
        data[len(data) // 2] ^= 0xFF
        e = self.invalid(bytes(data), 4)
        self.assertTrue(e.reason.startswith("model corrupted: CRC-32"), e.reason)

    def test_truncated_model(self):
        data = read("mlp_f32.fer")
        e = self.invalid(data[:-10], 3)
        self.assertEqual(e.reason, f"model truncated: expected {len(data)} bytes, got {len(data) - 10}")
        self.invalid(data[:2], 3)
        self.invalid(b"", 3)

    def test_not_a_model(self):
        e = self.invalid(b"this is not a model at all, really", 1)
        self.assertEqual(e.reason, "not a ferrite model (bad magic)")

    def test_missing_file(self):
        with self.assertRaises(FerriteError.Io) as e:
            Model.from_file("/nonexistent/model.fer")
        self.assertEqual((e.exception.code, e.exception.path), (1000, "/nonexistent/model.fer"))
        self.assertIn("/nonexistent/model.fer", e.exception.reason)

    def test_wrong_length(self):
        with self.assertRaises(FerriteError.WrongLength) as e:
            load("mlp_f32.fer").predict([0.5] * 3)
        x = e.exception
        self.assertEqual((x.code, x.expected, x.actual), (14, 16, 3))
        self.assertEqual(x.reason, "wrong length: expected 16 values, got 3")
        with self.assertRaises(FerriteError.WrongLength) as e:
            load("mlp_int8_raw.fer").run_raw(b"\0" * 15)
        self.assertEqual((e.exception.expected, e.exception.actual), (16, 15))

    def test_nan_and_infinity(self):
        m = load("mlp_f32.fer")
        row = [0.5] * 16
        row[7] = float("nan")
        with self.assertRaises(FerriteError.InvalidInput) as e:
            m.predict(row)
        self.assertEqual((e.exception.code, e.exception.feature), (16, 7))
        self.assertEqual(e.exception.reason, "invalid value in input feature 7")
        row[7], row[2] = 0.0, float("-inf")
        with self.assertRaises(FerriteError.InvalidInput) as e:
            m.predict(row)
        self.assertEqual(e.exception.feature, 2)
        with self.assertRaises(FerriteError.InvalidInput) as e:
            m.predict_batch([[0.0] * 16, [0.0] * 16, row])
        self.assertEqual(e.exception.reason, "row 2: invalid value in input feature 2")


class Threads(unittest.TestCase):
    def test_concurrent_predict_equals_sequential(self):
        m = load("mlp_int8.fer")
        rows = inputs()
        reference = [f32_hex(m.predict(r).scores) for r in rows]
        failures = []

        def worker(t):
            for k in range(200):
                i = (t + k) % len(rows)
                got = f32_hex(m.predict(rows[i]).scores)
                if got != reference[i]:
                    failures.append((t, k, got))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])


class Monitoring(unittest.TestCase):
    """monitor.fer: baseline of 400 rows uniform on [0, 1) (4 bins per feature)."""

    @staticmethod
    def uniform():
        s = 7
        while True:
            s = (s * 1664525 + 1013904223) % 2**32
            yield (s >> 8) / 16777216

    def test_a_shifted_feature_is_flagged(self):
        m = load("monitor.fer")
        mon = Monitor(m, 0)
        u = self.uniform()
        for _ in range(2000):
            mon.predict([next(u), next(u)])
        r = mon.report()
        self.assertEqual(r.rows, 2000)
        self.assertEqual([f.name for f in r.features], ["a", "b"])
        for f in r.features:
            self.assertFalse(f.drift.flagged, f)
            self.assertLess(f.drift.psi, 0.1)
        mon.reset()
        for _ in range(2000):
            mon.predict([next(u) + 0.29, next(u)])
        r = mon.report()
        f0, f1 = r.features
        self.assertTrue(f0.drift.flagged)
        self.assertGreater(f0.drift.psi, 0.25)
        self.assertEqual(f0.drift.level, DriftLevel.SHIFTED)
        self.assertLess(f0.drift.p_value, 1e-6)
        self.assertGreater(f0.out_of_range, 400)
        self.assertFalse(f1.drift.flagged)
        self.assertLess(f1.drift.psi, 0.1)
        self.assertEqual(r.latency.count, 2000)
        self.assertGreater(r.latency.p95_seconds, 0)
        self.assertLess(len(mon.snapshot()), 1000)

    def test_a_model_without_a_baseline_cannot_be_monitored(self):
        with self.assertRaises(FerriteError.Runtime) as e:
            Monitor(load("mlp_f32.fer"), 0)
        self.assertEqual(e.exception.code, 20)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    failed = len(result.failures) + len(result.errors)
    print(f"python: {result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.testsRun else 0)
