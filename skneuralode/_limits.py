"""A fit's limits before IPOPT runs: its memory (an up-front estimate) and ``max_time``.

Memory. The numpy engine's Jacobian and Hessian hold dense per-point blocks: every
collocation row depends on the point's states and on all network parameters, so the
Jacobian has about ``n_colloc * d * (p + d)`` nonzeros and the Hessian's per-point
``x_c x_c`` and ``x_c theta`` blocks as many again, plus the dense ``theta theta``
triangle (``p^2 / 2``, dense in MUMPS' factor too). IPOPT and MUMPS copy these values and
their indices several times (the KKT matrix, its factor's fill). :func:`estimate_memory`
counts these entries from the problem's dimensions alone (before any array is built) and
multiplies by :data:`BYTES_PER_ENTRY`, calibrated on measured peaks
(``benchmarks/memory_estimate.py``; see the constant). :func:`check_memory` refuses a fit
whose estimate exceeds the memory available to this process (``MemAvailable``, and the
cgroup limit when one is set), unless ``SKNEURALODE_MEMORY_CHECK=0``.

Time. :func:`check_deadline` runs between the phases of ``fit`` (validation, smoothing and
scaling, building the NLP, the engine's structures): past ``max_time`` before IPOPT
starts there is no model to keep, so it raises a ``TimeoutError`` that names the phase.
"""

from __future__ import annotations

import os
import time

#: Bytes of peak memory per counted entry (one float of a per-point Jacobian/Hessian
#: block or of the dense ``theta theta`` square), values, indices and the copies of
#: IPOPT and MUMPS included. Calibrated with ``benchmarks/memory_estimate.py``: the
#: measured peaks (``ru_maxrss`` above the imports, ``max_iter=2``) were 75 to 109 bytes
#: per entry (200 samples x 10 states, width 32: 741 MiB; x 20 states: 2412 MiB; 2 000
#: and 10 000 samples x 2 states: 412 and 1917 MiB; width 512: 953 MiB); 112 keeps the
#: estimate above each of them by 13 % to 53 %.
BYTES_PER_ENTRY = 112
#: Fixed part of the estimate (temporaries of the Hessian's blocks, the solver's tables).
BASE_BYTES = 64 * 2**20
#: Environment variable that turns the memory check off (``0``).
MEMORY_CHECK_ENV = "SKNEURALODE_MEMORY_CHECK"
#: Where :func:`available_memory` reads: the kernel's estimate, the cgroup v2 folder.
MEMINFO = "/proc/meminfo"
CGROUP = "/sys/fs/cgroup"


def _n_parameters(n_states: int, n_inputs: int, width: int, depth: int) -> int:
    sizes = [n_states + n_inputs] + [width] * depth + [n_states]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def _n_collocation_points(n_samples: int, scheme: str, degree: int, n_elements) -> int:
    if scheme == "chebyshev":
        return (n_samples - 1 if n_elements is None else n_elements) + 1
    return (n_samples - 1 if n_elements is None else n_elements) * degree


def estimate_memory(n_points, n_states: int, n_inputs: int, spec) -> int:
    """Estimated peak bytes of a fit's solve.

    Parameters
    ----------
    n_points : list of int
        Samples per trajectory.
    n_states, n_inputs : int
        Observed states and inputs (``spec.n_latent`` latent states are added).
    spec : ProblemSpec or estimator
        Reads ``scheme``, ``degree``, ``n_elements``, ``width``, ``depth``, ``n_latent``.
    """
    d = n_states + int(spec.n_latent)
    p = _n_parameters(d, n_inputs, int(spec.width), int(spec.depth))
    n_colloc = sum(
        _n_collocation_points(n, spec.scheme, int(spec.degree), spec.n_elements) for n in n_points
    )
    entries = 2 * n_colloc * d * (p + d) + p * p
    return int(BASE_BYTES + BYTES_PER_ENTRY * entries)


def available_memory() -> int | None:
    """Bytes this process may still allocate: ``MemAvailable`` of ``/proc/meminfo`` (else
    free pages), capped by the cgroup v2 limit less its usage; ``None`` if unknown."""
    found = []
    try:
        with open(MEMINFO) as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        try:
            found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        with open(os.path.join(CGROUP, "memory.max")) as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open(os.path.join(CGROUP, "memory.current")) as fh:
                found.append(int(limit) - int(fh.read().strip()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_memory(n_points, n_states: int, n_inputs: int, spec) -> int:
    """The estimate of :func:`estimate_memory`; raises ``MemoryError`` if it exceeds
    :func:`available_memory` (skipped with ``SKNEURALODE_MEMORY_CHECK=0``)."""
    estimate = estimate_memory(n_points, n_states, n_inputs, spec)
    if os.environ.get(MEMORY_CHECK_ENV, "1") == "0":
        return estimate
    available = available_memory()
    if available is None or estimate <= available:
        return estimate
    d = n_states + int(spec.n_latent)
    p = _n_parameters(d, n_inputs, int(spec.width), int(spec.depth))
    raise MemoryError(
        f"This fit needs about {_gib(estimate)} of memory (estimated before building it: "
        f"{sum(n_points)} samples, {d} states, {p} network parameters with width="
        f"{spec.width}, depth={spec.depth}, degree={spec.degree}) and {_gib(available)} "
        "is available. Reduce `width` or `depth` (the Jacobian and Hessian grow with "
        "states x parameters per collocation point), `n_elements` or `degree`, or the "
        "samples per trajectory; or fit with ADMMNeuralODE, which solves the data in "
        f"batches. Set the environment variable {MEMORY_CHECK_ENV}=0 to skip this check."
    )


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.2f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"


#: What makes each phase of ``fit`` cheaper (the advice of :func:`check_deadline`).
PHASES = {
    "validating the data": "pass fewer samples",
    "smoothing the data": (
        "set `smoothing` to a float penalty or 'none' (no cross-validation), or pass fewer samples"
    ),
    "building the NLP": "reduce `n_elements`, `degree` or the samples",
    "building the engine's structures": "reduce `n_elements`, `degree`, `width` or the samples",
}


def check_deadline(deadline: float | None, phase: str) -> None:
    """Raise ``TimeoutError`` if ``deadline`` (a ``time.perf_counter()`` value) has passed
    at the end of ``phase`` (a key of :data:`PHASES`), before IPOPT started."""
    if deadline is None:
        return
    late = time.perf_counter() - deadline
    if late > 0:
        raise TimeoutError(
            f"max_time ran out while {phase} ({late:.2f} s past the limit), before IPOPT "
            "started: there is no fitted model, and the estimator keeps what it held "
            f"before. Raise `max_time`, or {PHASES[phase]}."
        )
