"""A test double for an AMPL-protocol ``ipopt`` executable (Ipopt's ``ampl_ipopt``).

Run as ``python fake_ipopt.py ARGS`` by a small ``ipopt`` wrapper that a test puts on
``PATH``. It does what Pyomo's ``SolverFactory("ipopt")``
(``pyomo/solvers/plugins/solvers/IPOPT.py``) relies on:

- ``ipopt -v`` prints ``Ipopt X.Y.Z (platform), ASL(date)`` and exits 0 (the version probe);
- ``ipopt STUB.nl -AMPL key=value ...`` reads AMPL keywords from the ``ipopt_options``
  environment variable and then from the command line (later ones win; Pyomo puts its
  options on the command line), echoes them as the ASL does, then reads the Ipopt options file
  (``ipopt.opt`` in the working directory, or ``option_file_name``), which overrides them as
  in Ipopt's second ``Initialize()``; it solves the problem, writes ``STUB.sol`` with the
  AMPL ``solve_result_num`` of ``AmplTNLP::finalize_solution`` and exits 0.

The NL file is evaluated by PyNumero's ASL library and solved by the real IPOPT inside
``cyipopt``, so the iterates, the ``output_file`` log ("Number of Iterations....", "EXIT:")
and the termination are genuine IPOPT behaviour. Not emulated: ``scaling_factor`` and
``ipopt_z*_in`` input suffixes, problems without exactly one objective (PyNumero needs one),
and ASL flags other than ``-v`` and ``-AMPL``.

SIGINT stops the solve at the next iteration with IPOPT's ``User_Requested_Stop`` (AMPL
result 403) and writes the iterate, as the ``ipopt`` executable of IPOPT 3.14 does. When
``FAKE_IPOPT_ITERATING`` names a file, it is created at the first iteration (so that a
test knows when to send the signal).
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import signal
import sys
import tempfile

# AMPL-interface-only keywords and synonyms (AmplTNLP::get_options).
AMPL_ONLY = ("wantsol", "halt_on_ampl_error")
SYNONYMS = {"outlev": "print_level", "maxit": "max_iter"}

# Ipopt ApplicationReturnStatus (what cyipopt reports) -> (AMPL solve_result_num, message),
# as AmplTNLP::finalize_solution writes them. Statuses missing here never reach
# finalize_solution (no iterate), so no .sol file is written, as with the real executable.
SOLVE_RESULT = {
    0: (0, "Optimal Solution Found"),
    1: (1, "Solved To Acceptable Level."),
    6: (2, "Found feasible point for square problem."),
    2: (200, "Converged to a locally infeasible point. Problem may be infeasible."),
    4: (300, "Iterates diverging; problem might be unbounded."),
    -1: (400, "Maximum Number of Iterations Exceeded."),
    -4: (401, "Maximum CPU Time Exceeded."),
    -5: (402, "Maximum Wallclock Time Exceeded."),
    5: (403, "User requested stop."),
    3: (500, "Search Direction becomes Too Small."),
    -2: (501, "Restoration Phase Failed."),
    -3: (502, "Error in step computation."),
    -13: (550, "Invalid number in NLP function or derivative detected."),
}
# IpoptApplication::call_optimize passes the multipliers to finalize_solution only for
# these statuses; for the others (time limits, invalid numbers) it passes zeros.
KEEPS_MULTIPLIERS = {0, 1, 2, 3, 4, 5, 6, -1, -2, -3}
INVALID_OPTION = -12


def ipopt_version() -> str:
    """The bundled IPOPT's version, from the wheel's file list when it names the library
    (``libipopt-<hash>.so.X.Y.Z``): ``ipopt -v`` must answer fast, because Pyomo waits
    for it only 2 s, and importing cyipopt (loading IPOPT) can take longer on a loaded
    machine. Otherwise from cyipopt itself."""
    from importlib import metadata

    try:
        files = metadata.files("cyipopt-wheels") or []
    except metadata.PackageNotFoundError:
        files = []
    for name in map(str, files):
        found = re.search(r"libipopt[^/]*\.so\.(\d+\.\d+\.\d+)$", name)
        if found:
            return found.group(1)
    import cyipopt

    return ".".join(map(str, cyipopt.IPOPT_VERSION))


def parse_keywords(tokens: list[str]) -> list[tuple[str, str]]:
    """ASL keyword syntax: ``key=value`` or ``key value``."""
    pairs = []
    tokens = iter(tokens)
    for token in tokens:
        if "=" in token:
            key, value = token.split("=", 1)
        else:
            key, value = token, next(tokens, None)
            if value is None:
                raise SystemExit(f'Missing value for keyword "{key}"')
        pairs.append((key.strip(), value.strip()))
    return pairs


def read_options_file(path: str) -> list[tuple[str, str]]:
    """Ipopt's options file: whitespace-separated ``name value`` pairs, ``#`` comments."""
    with open(path) as fh:
        tokens = shlex.split(fh.read(), comments=True)
    return list(zip(tokens[0::2], tokens[1::2]))


def quote(value: str) -> str:
    return f'"{value}"' if re.search(r"\s", value) else value


INTERRUPTED = []


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, lambda signum, frame: INTERRUPTED.append(signum))
    if not argv:
        print("usage: ipopt [-v] stub [-AMPL] [keyword=value ...]", file=sys.stderr)
        return 1
    if argv[0] == "-v":  # no ASL date here: reading it imports Pyomo, too slow for the probe
        print(f"Ipopt {ipopt_version()} ({platform.machine()} {sys.platform}), ASL(0)")
        return 0
    if argv[0].startswith("-"):
        print(f"ipopt: flag {argv[0]} is not emulated by this test double", file=sys.stderr)
        return 1
    stub, rest = argv[0], argv[1:]
    ampl_flag = "-AMPL" in rest
    keywords = parse_keywords(shlex.split(os.environ.get("ipopt_options", "")))
    keywords += parse_keywords([arg for arg in rest if arg != "-AMPL"])

    version = ipopt_version()
    if keywords:  # the ASL echoes the keywords it was given
        echo = "\n".join(f"{key}={value}" for key, value in keywords)
        print(f"Ipopt {version}: {echo}", flush=True)

    options, ampl = {}, {}
    for key, value in keywords:
        key = SYNONYMS.get(key, key)
        (ampl if key in AMPL_ONLY else options)[key] = value
    options_file = options.pop("option_file_name", "ipopt.opt")
    if os.path.exists(options_file):
        options.update(read_options_file(options_file))
    if "output_file" in options:  # we solve in a scratch directory, so pin relative paths
        options["output_file"] = os.path.abspath(options["output_file"])

    nl_file = stub if os.path.exists(stub) or not os.path.exists(stub + ".nl") else stub + ".nl"
    sol_file = (nl_file[:-3] if nl_file.endswith(".nl") else nl_file) + ".sol"
    with open(nl_file) as fh:
        maximize = re.search(r"^O0 1\b", fh.read(), re.MULTILINE) is not None

    import numpy as np
    from pyomo.contrib.pynumero.interfaces.ampl_nlp import AslNLP
    from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP

    nlp = AslNLP(os.path.abspath(nl_file))
    iterating = os.environ.get("FAKE_IPOPT_ITERATING")

    def callback(nlp, problem, alg_mod, it, obj, inf_pr, inf_du, mu, d_norm, reg, a_du, a_pr, ls):
        if iterating and not os.path.exists(iterating):
            open(iterating, "w").close()
        return not INTERRUPTED

    problem = CyIpoptNLP(
        nlp,
        intermediate_callback=callback,
        halt_on_evaluation_error=ampl.get("halt_on_ampl_error") == "yes",
    )
    # AmplTNLP::get_starting_point: variables without an initial value start at 0 projected
    # onto their bounds (PyNumero reports them as 0).
    x0 = nlp.init_primals()
    x0 = np.where(x0 == 0.0, np.clip(0.0, nlp.primals_lb(), nlp.primals_ub()), x0)

    # Ipopt types the options from its registry when it reads an options file, as the ASL
    # keyword handlers do; an options file named ipopt.opt in the working directory is read
    # silently, so solve in a scratch directory holding the merged options.
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        with open(os.path.join(scratch, "ipopt.opt"), "w") as fh:
            fh.writelines(f"{key} {quote(value)}\n" for key, value in options.items())
        os.chdir(scratch)
        try:
            x, info = problem.solve(x0)
        finally:
            os.chdir(cwd)
    problem.close()

    status = int(info["status"])
    if status == INVALID_OPTION:
        return 1
    if status not in SOLVE_RESULT:
        return 0
    solve_result_num, text = SOLVE_RESULT[status]
    message = f" \nIpopt {version}: {text}"
    if not ampl_flag and not int(ampl.get("wantsol", "0")) & 1:
        print(message)
        return 0

    zero_x, zero_g = np.zeros(len(x)), np.zeros(nlp.n_constraints())
    keep = status in KEEPS_MULTIPLIERS
    lam = np.asarray(info["mult_g"], dtype=float) if keep else zero_g
    z_l = np.asarray(info["mult_x_L"], dtype=float) if keep else zero_x
    z_u = np.asarray(info["mult_x_U"], dtype=float) if keep else zero_x
    sign = -1.0 if maximize else 1.0  # AmplTNLP's obj_sign_
    # AMPL sign conventions, as AmplTNLP::finalize_solution converts them.
    lam_ampl = -sign * lam
    z_l_ampl, z_u_ampl = sign * z_l, -sign * z_u
    nlp._asl.finalize_solution(solve_result_num, message, np.asarray(x, dtype=float), lam_ampl)
    suffixes = {"ipopt_zL_out": z_l_ampl, "ipopt_zU_out": z_u_ampl}
    finish_sol_file(sol_file, solve_result_num, suffixes)
    return 0


def finish_sol_file(path: str, solve_result_num: int, var_suffixes: dict) -> None:
    """Add what PyNumero's ``finalize_solution`` leaves out of the .sol file.

    It ignores its ``ampl_solve_result_num`` argument, so the ``objno`` line (objective
    number, solve_result_num) is missing; the real executable also writes the bound
    multipliers as the real-valued variable suffixes ``ipopt_zL_out``/``ipopt_zU_out``.
    """
    with open(path) as fh:
        lines = fh.readlines()
    objno = f"objno 0 {solve_result_num}\n"
    found = [i for i, line in enumerate(lines) if line.startswith("objno")]
    if found:
        lines[found[0]] = objno
        lines = lines[: found[0] + 1]
    else:
        lines.append(objno)
    for name, values in var_suffixes.items():
        nonzero = [(i, float(v)) for i, v in enumerate(values) if v != 0.0]
        if nonzero:
            # kind 4 = variables (0) | real values (4); then count, len(name)+1, table sizes.
            lines.append(f"suffix 4 {len(nonzero)} {len(name) + 1} 0 0\n{name}\n")
            lines.extend(f"{i} {v!r}\n" for i, v in nonzero)
    with open(path, "w") as fh:
        fh.writelines(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
