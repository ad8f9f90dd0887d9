//! `ferrite._native.Monitor`: the runtime's [`ferrite::Monitor`] over NumPy rows.
//!
//! The counters (`Model::monitor_words` words) and the monitor's scalar state live
//! here behind a mutex; every call resumes a runtime monitor over them
//! ([`ferrite::Monitor::resume`]), as the UniFFI binding does. Reports go through the
//! host tool's decoder of a device snapshot (`ferrite_tool::monitor::monitor_snapshot`,
//! what `ferrite monitor --snapshot` prints), so the JSON and the Prometheus text are
//! the CLI's.

use crate::errors::Failure;
use crate::model::{value_error, Model};
use ferrite::MonitorState;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Mutex;
use std::time::Instant;

/// Ticks per second of the clock the monitor's latencies are counted in (ns).
const CLOCK_HZ: u32 = 1_000_000_000;

/// Drift and latency monitor of one model (the Python class `ferrite.Monitor` wraps it).
#[pyclass(frozen, module = "ferrite._native")]
pub struct Monitor {
    model: Py<Model>,
    state: Mutex<(Vec<u32>, MonitorState)>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

#[pymethods]
impl Monitor {
    /// A monitor of `model` (which must carry a monitoring baseline) with a decay
    /// `window` in rows (0: never).
    #[new]
    fn new(py: Python<'_>, model: Py<Model>, window: u32) -> PyResult<Self> {
        let m = model.get();
        if m.layout_batch() > 1 {
            return Err(Failure::Unsupported(
                "a batch file carries no monitoring baseline: monitor the batch-1 file".into(),
            )
            .into_py(py));
        }
        let owned = m.runtime_model();
        let mut words = vec![0u32; owned.monitor_words()];
        let st = {
            let mut mon = ferrite::Monitor::new(&owned, &mut words)
                .map_err(|e| Failure::from(e).into_py(py))?;
            mon.set_window(window);
            mon.set_clock_hz(CLOCK_HZ);
            mon.state()
        };
        Ok(Monitor {
            model,
            state: Mutex::new((words, st)),
        })
    }

    /// Counts raw input rows `x` and, when given, the matching rows of output 0
    /// (`outputs`, `(n, output_width)`); wrong widths raise before anything is
    /// counted. Runs without the GIL.
    #[pyo3(signature = (x, outputs=None))]
    fn update(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        outputs: Option<PyReadonlyArray2<'_, f32>>,
    ) -> PyResult<()> {
        // Every width is checked before anything is counted.
        let (row, out) = self.model.get().row_widths();
        let wrong = |expected: usize, actual: usize| {
            Failure::from(ferrite::Error::WrongLength { expected, actual }).into_py(py)
        };
        let (n, width) = (x.shape()[0], x.shape()[1]);
        if width != row {
            return Err(wrong(row, width));
        }
        let xs = x.as_slice().map_err(value_error)?;
        let outs = match &outputs {
            Some(o) => {
                if o.shape()[0] != n {
                    return Err(value_error(format!(
                        "outputs has {} rows, x has {n}",
                        o.shape()[0]
                    )));
                }
                if o.shape()[1] != out {
                    return Err(wrong(out, o.shape()[1]));
                }
                Some((o.as_slice().map_err(value_error)?, out))
            }
            None => None,
        };
        py.detach(|| {
            self.with(|m| {
                for r in 0..n {
                    let row = &xs[r * width..(r + 1) * width];
                    let out = outs.map(|(o, w)| &o[r * w..(r + 1) * w]);
                    m.observe(row, out)
                        .map_err(|e| Failure::from(e).at_row(r))?;
                }
                Ok(())
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// `Model.predict` through the runtime's `Monitor::predict`: every row of `x`
    /// predicted, timed (ns) and counted (input, predicted class or output, latency).
    /// Returns output 0 and, with `labels`, the arg-max classes. A row the model
    /// rejects is counted as input (NaN as missing) and raises, naming the row.
    #[allow(clippy::type_complexity)]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        labels: bool,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Option<Bound<'py, PyArray1<i64>>>)> {
        let model = self.model.get();
        let (row, out) = model.row_widths();
        if x.shape()[1] != row {
            let e = ferrite::Error::WrongLength {
                expected: row,
                actual: x.shape()[1],
            };
            return Err(Failure::from(e).into_py(py));
        }
        if labels && out < 2 {
            return Err(Failure::Unsupported(format!(
                "labels need an output of several class scores; this model's output 0 has \
                 {out} value(s) per row: use predict"
            ))
            .into_py(py));
        }
        let n = x.shape()[0];
        let scores = PyArray2::<f32>::zeros(py, [n, out], false);
        let label_array = labels.then(|| PyArray1::<i64>::zeros(py, [n], false));
        {
            let mut sw = scores.readwrite();
            let mut lw = label_array.as_ref().map(|l| l.readwrite());
            let s = sw.as_slice_mut().map_err(value_error)?;
            let mut l = match lw.as_mut() {
                Some(l) => Some(l.as_slice_mut().map_err(value_error)?),
                None => None,
            };
            let xs = x.as_slice().map_err(value_error)?;
            py.detach(|| {
                model.with_session(|session| {
                    self.with(|m| {
                        let start = Instant::now();
                        // Nanoseconds, wrapping in u32 (the monitor takes differences).
                        let mut clock = || (start.elapsed().as_nanos() & 0xFFFF_FFFF) as u32;
                        for r in 0..n {
                            let dst = &mut s[r * out..(r + 1) * out];
                            let src = &xs[r * row..(r + 1) * row];
                            let label = m
                                .predict(session, src, dst, &mut clock)
                                .map_err(|e| Failure::from(e).at_row(r))?;
                            if let (Some(ls), Some(k)) = (l.as_deref_mut(), label) {
                                ls[r] = k as i64;
                            }
                        }
                        Ok(())
                    })
                })
            })
            .map_err(|f| f.into_py(py))?;
        }
        Ok((scores, label_array))
    }

    /// The report as JSON (`ferrite monitor --json`'s document).
    fn report_json(&self, py: Python<'_>) -> PyResult<String> {
        let r = self.decoded(py)?;
        Ok(r.to_json().to_string())
    }

    /// The report in the Prometheus text exposition format (`ferrite monitor
    /// --prometheus`), every sample labelled `model` plus `labels`.
    #[pyo3(signature = (labels=Vec::new()))]
    fn prometheus(&self, py: Python<'_>, labels: Vec<(String, String)>) -> PyResult<String> {
        Ok(self.decoded(py)?.to_prometheus(&labels))
    }

    /// The runtime's `Monitor::snapshot` bytes.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.snapshot_bytes().map_err(|f| f.into_py(py))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Replaces the counters with a snapshot's (`Monitor::restore`).
    fn restore(&self, py: Python<'_>, snapshot: &[u8]) -> PyResult<()> {
        self.with(|m| Ok(m.restore(snapshot)?))
            .map_err(|f| f.into_py(py))
    }

    /// Clears every counter (the window stays).
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        self.with(|m| {
            m.reset();
            Ok(())
        })
        .map_err(|f| f.into_py(py))
    }

    /// Rows observed since the monitor was created or reset.
    #[getter]
    fn rows(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(|m| Ok(m.rows())).map_err(|f| f.into_py(py))
    }

    /// The decay window in rows (0: never).
    #[getter]
    fn window(&self, py: Python<'_>) -> PyResult<u32> {
        self.with(|m| Ok(m.window())).map_err(|f| f.into_py(py))
    }

    /// Bytes of counters the monitor holds (4 per word).
    #[getter]
    fn memory_bytes(&self) -> usize {
        4 * self.lock().0.len()
    }
}

impl Monitor {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<u32>, MonitorState)> {
        // Plain counters: a poisoned lock is still consistent (each update is whole rows).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a runtime monitor resumed over the counters, then keeps its state.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut ferrite::Monitor<'_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let model = self.model.get().runtime_model();
        let mut guard = self.lock();
        let (words, st) = &mut *guard;
        let mut m = ferrite::Monitor::resume(&model, words, *st)?;
        let r = f(&mut m);
        *st = m.state();
        r
    }

    fn snapshot_bytes(&self) -> Result<Vec<u8>, Failure> {
        self.with(|m| {
            let mut buf = vec![0u8; m.snapshot_max_len()];
            Ok(m.snapshot(&mut buf)?.to_vec())
        })
    }

    /// The snapshot decoded against the model by the host tool.
    fn decoded(&self, py: Python<'_>) -> PyResult<ferrite_tool::monitor::MonitorReport> {
        let snap = self.snapshot_bytes().map_err(|f| f.into_py(py))?;
        let model = self.model.get();
        ferrite_tool::monitor::monitor_snapshot(model.file(), &snap)
            .map_err(|e| Failure::from(e).into_py(py))
    }
}
