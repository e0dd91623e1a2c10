"""The numpy engine: the NLP of ``_problem`` with exact, vectorized derivatives for IPOPT.

Routes (``solver_``): ``"ctypes"``, IPOPT's C interface through ``_ipopt_c``; ``"cyipopt"``,
``cyipopt.Problem`` when that library is not found (see ``DRIVER``).


:class:`NumpyNLP` evaluates the objective, its gradient, the constraints, the sparse
constraint Jacobian and the exact sparse Hessian of the Lagrangian with batched numpy
over all collocation points at once; :func:`solve_numpy` hands it to IPOPT (through
``_ipopt_c``'s ctypes driver, or ``cyipopt.Problem``; see ``DRIVER``).
The sparsity structures are computed once per problem; each callback only fills values.

Variables are ``w = (x, theta)``: the states at the nodes, node-major (``x[n * d + i]``),
then the flat network parameters (``_mlp.Layout``). Constraint rows are the
collocation equations, point-major (``c * d + i``), then the continuity equations.

Derivatives (the whole derivation, here). Write ``a_0 = z = (x_c, u_c)`` for the network
input at collocation point ``c``, ``s_l = W_l^T a_{l-1} + b_l``, ``a_l = sigma(s_l)`` and
``f = s_L``. Constraint row ``(c, i)`` is ``D_c x_i - h_c f_i``, so with multipliers
``lambda_c`` the network part of the Lagrangian at ``c`` is ``phi_c = v^T f`` with
``v = -h_c lambda_c``. Its Hessian over ``(x_c, theta)`` is the sum over the graph's
nonlinear operations of (adjoint x local second derivative), pulled back with the
first derivatives of their inputs:

- every activation ``a_{l,j} = sigma(s_{l,j})``: ``g_{l,j} sigma''(s_{l,j}) grad s_{l,j}
  grad s_{l,j}^T`` with ``g_l = d phi / d a_l``;
- every product ``W_l[a, j] a_{l-1, a}`` inside ``s_{l,j}``: ``sbar_{l,j}`` times the
  symmetric pair ``(e_{W_l[a, j]}, grad a_{l-1, a})`` with ``sbar_l = d phi / d s_l``.

``grad s_{l,j}`` is carried forward split into its dense part over ``x_c`` and the
parameters of the layers before ``l``, and its own part ``(a_{l-1}, 1)`` on
``(W_l[:, j], b_l[j])``. The ``theta theta`` block is summed over points (a dense lower
triangle: after eliminating the states IPOPT's factorization is dense there anyway);
the ``x_c theta`` and ``x_c x_c`` blocks stay per point.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from .. import _mlp
from .._limits import check_deadline
from .._problem import NLPData, latent_residuals
from .._resident import task_data
from .._status import IPOPT_STATUS, RETRY_WITH_IPOPT_RULE
from ..exceptions import SolverError
from . import BatchResult, IterationLog, SolveResult, time_limited

#: IPOPT's default ``nlp_lower/upper_bound_inf`` is 1e19: beyond it a bound is no bound.
_INF = 2e19
#: Adaptive Hessian shift (``NLPData.hessian_regularization == "adaptive"``): after each
#: iteration the shift becomes ``SHIFT_DECREASE * (shift + delta_w)``, with ``delta_w`` the
#: regularization IPOPT added for that iteration's step, and 0 below ``SHIFT_FLOOR``.
SHIFT_DECREASE = 1.0 / 3.0
SHIFT_FLOOR = 1e-6
#: Points per block in the Hessian (bounds its temporary arrays to roughly
#: ``_BLOCK_ENTRIES`` floats).
_BLOCK_ENTRIES = 4_000_000


def _rows_operator(idx: np.ndarray, w: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """Padded ``(index, weight)`` rows as a sparse matrix (duplicates summed)."""
    rows = np.repeat(np.arange(len(idx)), idx.shape[1])
    return sp.csr_matrix((w.ravel(), (rows, idx.ravel())), shape=(len(idx), n_cols))


def _unique_pairs(rows: np.ndarray, cols: np.ndarray):
    """Unique (row, col) pairs and, for each input pair, its position among them."""
    n_cols = int(cols.max()) + 1 if len(cols) else 1
    keys = rows.astype(np.int64) * n_cols + cols
    unique, inverse = np.unique(keys, return_inverse=True)
    return (unique // n_cols).astype(np.int32), (unique % n_cols).astype(np.int32), inverse


class NumpyNLP:
    """Callbacks of the collocation NLP, in ``cyipopt.Problem``'s convention (which
    ``_ipopt_c.Problem`` follows too).

    Parameters
    ----------
    data : NLPData
        The problem description.
    rho : float, default=0.0
        Weight of the proximal term ``rho/2 ||theta - center||^2`` (ADMM sub-problems).
    center : ndarray of shape (n_params,), default=None
        Its centre.
    """

    def __init__(self, data: NLPData, rho: float = 0.0, center: np.ndarray | None = None):
        disc = data.disc
        self.data = data
        self.d = d = data.n_states
        self.n_nodes = disc.n_nodes
        self.nx = self.n_nodes * d
        self.layout = _mlp.Layout(data.sizes)
        self.n_net = self.layout.n_params  # the network's parameters
        self.p = len(data.weight_mask)  # all of theta (with physics: then p_s)
        self.n = self.nx + self.p
        self.act = _mlp.ACTIVATIONS[data.activation]
        self.rho = float(rho)
        self.center = np.zeros(self.p) if center is None else np.asarray(center, dtype=float)
        self.C = _rows_operator(disc.colloc_idx, disc.colloc_w, self.n_nodes)
        self.O = _rows_operator(disc.obs_idx, disc.obs_w, self.n_nodes)
        n_cont = len(disc.cont_node)
        E = _rows_operator(disc.cont_idx, -disc.cont_w, self.n_nodes)
        self.E = (
            E
            + sp.csr_matrix((np.ones(n_cont), (np.arange(n_cont), disc.cont_node)), shape=E.shape)
        ).tocsr()
        self.n_colloc = len(disc.colloc_node)
        self.n_cont = n_cont
        # latent normalization rows: (mean z_k, mean z_k^2 - 1) per latent state k
        self.latent_cols = data.normalized_latent if data.n_normalization else None
        self.m = (self.n_colloc + n_cont) * d + data.n_normalization
        self.h = disc.colloc_h
        self.cnode = disc.colloc_node
        self.u_c = None if data.node_inputs is None else data.node_inputs[self.cnode]
        self.obs_weight = data.obs_weight  # None: every entry observed
        self.obs_scale = 2.0 / data.n_observed  # d/dx of 1/N sum r^2 is (2/N) r
        self.pen_diag = 2.0 * data.alpha * data.weight_mask
        self._cache_key = None
        self.on_iteration = None  # callable(alg_mod, iter, obj, ...) -> bool (False stops)
        self.adaptive_shift = data.hessian_regularization == "adaptive"
        self.shift = 0.0  # added to the Hessian's diagonal (adaptive shift)
        self.eval_time = float("nan")  # seconds in the evaluation callbacks (solve_numpy)
        self._jacobian_structure()
        self._hessian_structure()

    # ----------------------------------------------------------- helpers
    def split(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``w`` -> (states (n_nodes, d), theta (p,))."""
        return w[: self.nx].reshape(self.n_nodes, self.d), w[self.nx :]

    def join(self, theta: np.ndarray, states: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ravel(states), theta])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        sb, wb = self.data.state_bound, self.data.weight_bound
        lo = np.r_[
            np.full(self.nx, -_INF if sb is None else -sb),
            np.full(self.p, -_INF if wb is None else -wb),
        ]
        if self.data.state_box is None:
            return lo, -lo
        hi = -lo
        x_lo, x_hi = self.data.state_limits()  # per state, then the same at every node
        lo[: self.nx] = np.tile(np.maximum(x_lo, -_INF), self.n_nodes)
        hi[: self.nx] = np.tile(np.minimum(x_hi, _INF), self.n_nodes)
        return lo, hi

    def _inputs(self, states: np.ndarray) -> np.ndarray:
        z = states[self.cnode]
        return z if self.u_c is None else np.hstack([z, self.u_c])

    def _forward(self, w: np.ndarray):
        """Per layer ``(a_{l-1}, sigma'(s_l), sigma''(s_l))`` at every point, cached on ``w``."""
        key = w.tobytes()
        if key != self._cache_key:
            self._cache_key, self._cache = key, self._network(*self.split(w))
        return self._cache

    def _network(self, states: np.ndarray, net: np.ndarray):
        """(coefs, per layer ``(a_{l-1}, sigma'(s_l), sigma''(s_l))``, outputs) at every
        point, for the network parameters ``net``."""
        coefs, intercepts = self.layout.unpack(net)
        a, layers = self._inputs(states), []
        for W, b in zip(coefs[:-1], intercepts[:-1]):
            act, d1, d2 = self.act.with_derivatives(a @ W + b)
            layers.append((a, d1, d2))
            a = act
        layers.append((a, None, None))
        return coefs, layers, a @ coefs[-1] + intercepts[-1]

    # ------------------------------------------------- objective, constraints
    def _residuals(self, states: np.ndarray) -> np.ndarray:
        r = self.O @ states - self.data.targets
        return r if self.obs_weight is None else r * self.obs_weight

    def objective(self, w: np.ndarray) -> float:
        states, theta = self.split(w)
        r = self._residuals(states)
        value = float(np.sum(r**2)) / self.data.n_observed + self.data.alpha * float(
            theta[self.data.weight_mask] @ theta[self.data.weight_mask]
        )
        if self.rho:
            value += 0.5 * self.rho * float(np.sum((theta - self.center) ** 2))
        return value

    def gradient(self, w: np.ndarray) -> np.ndarray:
        states, theta = self.split(w)
        r = self._residuals(states)
        g_theta = self.pen_diag * theta
        if self.rho:
            g_theta = g_theta + self.rho * (theta - self.center)
        return np.concatenate([(self.obs_scale * (self.O.T @ r)).ravel(), g_theta])

    def constraints(self, w: np.ndarray) -> np.ndarray:
        states, _ = self.split(w)
        f = self._forward(w)[2]
        colloc = self.C @ states - self.h[:, None] * f
        return np.concatenate(
            [colloc.ravel(), (self.E @ states).ravel(), latent_residuals(self.data, states)]
        )

    # ------------------------------------------------------------ Jacobian
    def _jacobian_structure(self) -> None:
        """Rows/cols: the x part (linear D and E rows plus the d x d network blocks, with
        duplicates summed), then the theta part (every row touches the hidden layers'
        parameters and its own output unit's weights and bias)."""
        d, nc = self.d, self.n_colloc
        ii = np.arange(d)
        C, E = self.C.tocoo(), self.E.tocoo()
        lin_r = np.concatenate(
            [(C.row[:, None] * d + ii).ravel(), ((nc + E.row[:, None]) * d + ii).ravel()]
        )
        lin_c = np.concatenate(
            [(C.col[:, None] * d + ii).ravel(), (E.col[:, None] * d + ii).ravel()]
        )
        self._lin_vals = np.concatenate([np.repeat(C.data, d), np.repeat(E.data, d)])
        c = np.arange(nc)
        net_r = np.broadcast_to((c[:, None, None] * d + ii[None, :, None]), (nc, d, d)).ravel()
        net_c = np.broadcast_to(
            self.cnode[:, None, None] * d + ii[None, None, :], (nc, d, d)
        ).ravel()
        self._jx_rows, self._jx_cols, self._jx_inv = _unique_pairs(
            np.concatenate([lin_r, net_r]), np.concatenate([lin_c, net_c])
        )
        self._jx_n = len(self._jx_rows)
        self._jt_rows, self._jt_cols = self._theta_jacobian_structure()
        # latent normalization: rows (2k, 2k + 1) after the others touch every node of z_k
        self._jz_rows = self._jz_cols = np.zeros(0, dtype=np.int32)
        if self.latent_cols is not None:
            first = (nc + self.n_cont) * d
            nodes = np.arange(self.n_nodes)
            k_rows = first + 2 * np.arange(len(self.latent_cols))
            self._jz_rows = np.repeat(np.concatenate([k_rows, k_rows + 1]), self.n_nodes)
            cols = (nodes[None, :] * d + self.latent_cols[:, None]).ravel()
            self._jz_cols = np.concatenate([cols, cols])

    def _theta_jacobian_structure(self):
        """The theta part: per row, the hidden parameters, then W_L[:, i] and b_L[i]."""
        d, nc = self.d, self.n_colloc
        ii = np.arange(d)
        lay = self.layout
        L = lay.n_layers
        hidden = np.arange(lay.before(L))
        nh = self.data.sizes[-2]
        own = lay.weight(L, np.arange(nh)[None, :], ii[:, None])  # (d, nh) W_L[:, i]
        own = np.hstack([own, lay.bias(L, ii)[:, None]])  # + b_L[i]
        cols = np.hstack([np.broadcast_to(hidden, (d, len(hidden))), own])  # (d, k)
        k = cols.shape[1]
        rows = np.repeat(np.arange(nc * d, dtype=np.int32), k)
        return rows, (self.nx + np.broadcast_to(cols, (nc, d, k))).ravel().astype(np.int32)

    def jacobianstructure(self):
        return (
            np.concatenate([self._jx_rows, self._jt_rows, self._jz_rows]).astype(np.int32),
            np.concatenate([self._jx_cols, self._jt_cols, self._jz_cols]).astype(np.int32),
        )

    def _latent_jacobian(self, states: np.ndarray) -> np.ndarray:
        if self.latent_cols is None:
            return np.zeros(0)
        z = states[:, self.latent_cols].T  # (n_latent, n_nodes)
        return np.concatenate(
            [np.full(z.size, 1.0 / self.n_nodes), (2.0 / self.n_nodes) * z.ravel()]
        )

    def jacobian(self, w: np.ndarray) -> np.ndarray:
        dfdx, theta_vals = self._rate_jacobian(w)
        x_vals = np.bincount(
            self._jx_inv,
            np.concatenate([self._lin_vals, (-self.h[:, None, None] * dfdx).ravel()]),
            minlength=self._jx_n,
        )
        return np.concatenate([x_vals, theta_vals, self._latent_jacobian(self.split(w)[0])])

    def _rate_jacobian(self, w: np.ndarray):
        """d f / d x_c per point (n_colloc, d, d) and the theta part's values, ``-h df/dtheta``
        on :meth:`_theta_jacobian_structure`."""
        coefs, layers, _ = self._forward(w)
        d, L = self.d, len(coefs)
        h = self.h[:, None, None]
        # delta_l = d f / d s_l, (nc, d, b_l), backward from delta_L = I
        delta = np.broadcast_to(np.eye(d), (self.n_colloc, d, d))
        parts = []
        for l in range(L - 1, 0, -1):  # noqa: E741 - hidden layers L-1 .. 1
            a_prev, d1, _ = layers[l - 1]
            delta = (delta @ coefs[l].T) * d1[:, None, :]
            dW = delta[:, :, None, :] * a_prev[:, None, :, None]
            parts.insert(0, np.concatenate([dW.reshape(len(dW), d, -1), delta], axis=2))
        dfdx = (delta @ coefs[0].T)[:, :, :d]
        a_last = layers[-1][0]
        own = np.concatenate([a_last, np.ones((len(a_last), 1))], axis=1)
        dfdt = np.concatenate(
            parts + [np.broadcast_to(own[:, None, :], (len(own), d, own.shape[1]))], axis=2
        )
        return dfdx, (-h * dfdt).ravel()

    # ------------------------------------------------------------- Hessian
    def _hessian_structure(self) -> None:
        """Lower triangle, variables (x, theta): x_c x_c blocks and the objective's
        observation Gram matrix (duplicates summed), x_c theta blocks (every parameter but
        the output biases), and the dense theta theta triangle."""
        d, nx = self.d, self.nx
        g_r, g_c, self._gram_vals = self._gram_structure()
        a_idx, b_idx = np.tril_indices(d)
        self._xx_pair = (a_idx, b_idx)
        base = self.cnode[:, None] * d
        xx_r, xx_c = (base + a_idx).ravel(), (base + b_idx).ravel()
        z_diag = np.zeros(0, dtype=np.int64)  # latent normalization: diagonal, every node
        if self.latent_cols is not None:
            z_diag = (np.arange(self.n_nodes)[:, None] * d + self.latent_cols).T.ravel()
        x_diag = np.arange(nx)  # the whole diagonal, for the adaptive shift
        self._hx_rows, self._hx_cols, self._hx_inv = _unique_pairs(
            np.concatenate([g_r, xx_r, z_diag, x_diag]),
            np.concatenate([g_c, xx_c, z_diag, x_diag]),
        )
        self._hx_n = len(self._hx_rows)
        self._theta_hessian_structure()

    def _theta_hessian_structure(self) -> None:
        """x_c theta blocks (every parameter but the output biases), dense theta theta."""
        d, nc, nx, p = self.d, self.n_colloc, self.nx, self.p
        base = self.cnode[:, None] * d
        self.q = p - d  # x_c couples with every parameter except the output biases
        ii = np.arange(d)
        self._ht_rows = np.broadcast_to(nx + np.arange(self.q), (nc, d, self.q)).ravel()
        self._ht_cols = np.broadcast_to(
            base[:, :, None] + ii[None, :, None], (nc, d, self.q)
        ).ravel()
        self._tt_idx = np.tril_indices(p)

    def _gram_structure(self):
        """The objective's Hessian on the states (over its 2/N factor): the lower triangle
        of ``O^T diag(w_i) O`` for every state ``i`` (``w_i`` its observed samples)."""
        d = self.d
        weights = self.obs_weight
        if weights is None:
            weights = np.ones((self.O.shape[0], d))
        rows, cols, vals = [], [], []
        for i in range(d):
            G = (self.O.T @ sp.diags(weights[:, i]) @ self.O).tocoo()
            keep = (G.row >= G.col) & (G.data != 0.0)
            rows.append(G.row[keep] * d + i)
            cols.append(G.col[keep] * d + i)
            vals.append(G.data[keep])
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)

    def hessianstructure(self):
        rows, cols = self._theta_hessian_pairs()
        return (
            np.concatenate([self._hx_rows, rows.astype(np.int32)]),
            np.concatenate([self._hx_cols, cols.astype(np.int32)]),
        )

    def _theta_hessian_pairs(self):
        """(rows, cols) of the Hessian entries after the x x part."""
        tt_r, tt_c = self._tt_idx
        return (
            np.concatenate([self._ht_rows, self.nx + tt_r]),
            np.concatenate([self._ht_cols, self.nx + tt_c]),
        )

    def hessian(self, w: np.ndarray, lagrange: np.ndarray, obj_factor: float) -> np.ndarray:
        XX, theta_vals = self._rates_hessian(w, lagrange, obj_factor)
        return np.concatenate([self._x_hessian_values(XX, lagrange, obj_factor), theta_vals])

    def _network_hessian_blocks(self, coefs, layers, v, n_x=None):
        """:meth:`_network_hessian` over all points, block by block: (XX, XT, TT), over the
        network's first ``n_x`` inputs (default: all ``d`` states)."""
        d, nc, p = self.d if n_x is None else n_x, self.n_colloc, self.n_net
        XX = np.empty((nc, d, d))
        XT = np.empty((nc, d, p))
        TT_sym, TT_cross = np.zeros((p, p)), np.zeros((p, p))
        step = max(1, _BLOCK_ENTRIES // max(1, d * p + max(self.data.sizes) * p))
        for lo in range(0, nc, step):
            blk = slice(lo, min(lo + step, nc))
            XX[blk], XT[blk] = self._network_hessian(
                coefs, layers, v[blk], blk, TT_sym, TT_cross, n_x
            )
        return XX, XT, TT_sym + TT_cross + TT_cross.T

    def _rates_hessian(self, w, lagrange, obj_factor):
        """The constraints' x_c x_c blocks (n_colloc, d, d) and the values of
        :meth:`_theta_hessian_pairs` (objective's theta terms and the shift included)."""
        coefs, layers, _ = self._forward(w)
        d, nc, p = self.d, self.n_colloc, self.p
        v = -self.h[:, None] * lagrange[: nc * d].reshape(nc, d)
        XX, XT, TT = self._network_hessian_blocks(coefs, layers, v)
        TT[np.diag_indices(p)] += obj_factor * (self.pen_diag + self.rho)
        if self.shift:
            TT[np.diag_indices(p)] += self.shift
        return XX, np.concatenate([XT[:, :, : self.q].ravel(), TT[self._tt_idx]])

    def _x_hessian_values(self, XX, lagrange, obj_factor):
        """Values of the x x part: observation Gram matrix, the x_c x_c blocks, the latent
        normalization and the shift."""
        d, nc = self.d, self.n_colloc
        a_idx, b_idx = self._xx_pair
        z_diag = np.zeros(0)
        if self.latent_cols is not None:  # lambda * 2/N on z_k's diagonal (mean-square row)
            lam = lagrange[(nc + self.n_cont) * d :][1::2]
            z_diag = np.repeat(lam * (2.0 / self.n_nodes), self.n_nodes)
        x_vals = np.bincount(
            self._hx_inv,
            np.concatenate(
                [
                    obj_factor * self.obs_scale * self._gram_vals,
                    XX[:, a_idx, b_idx].ravel(),
                    z_diag,
                    np.full(self.nx, self.shift),
                ]
            ),
            minlength=self._hx_n,
        )
        return x_vals

    def _network_hessian(self, coefs, layers, v, blk, TT_sym, TT_cross, n_x=None):
        """Second derivatives of ``phi_c = v_c . f(z_c)`` on a block of points.

        Returns the per-point (x_c x_c, x_c theta) blocks and adds the theta theta block,
        summed over the points, into ``TT_sym`` (symmetric terms, both triangles) and
        ``TT_cross`` (terms between a layer's parameters and earlier layers', on the rows
        of the later layer only; the caller adds the transpose). ``n_x``: how many of
        the network's first inputs are states (default: all ``d`` states).
        """
        d, lay, L = self.d if n_x is None else n_x, self.layout, len(coefs)
        n = v.shape[0]
        layers = [
            (a[blk], None if d1 is None else d1[blk], None if d2 is None else d2[blk])
            for a, d1, d2 in layers
        ]
        # adjoints: sbar_l = d phi / d s_l, c_l = g_l sigma''(s_l)
        sbar, curv = [None] * (L + 1), [None] * (L + 1)
        sbar[L] = v
        for l in range(L - 1, 0, -1):  # noqa: E741
            g = sbar[l + 1] @ coefs[l].T
            sbar[l], curv[l] = g * layers[l - 1][1], g * layers[l - 1][2]
        XX = np.zeros((n, d, d))
        XT = np.zeros((n, d, self.n_net))
        ones = np.ones((n, 1))
        Jx = np.broadcast_to(coefs[0][:d].T, (n, coefs[0].shape[1], d))  # d s_1 / d x
        Jt = np.zeros((n, coefs[0].shape[1], 0))  # d s_1 / d theta_{<1}
        Jx_prev = Jt_prev = None  # the same for the layer before (from layer 2 on)
        for l in range(1, L + 1):  # noqa: E741
            a_prev = layers[l - 1][0]
            at = np.hstack([a_prev, ones])  # own part of grad s_{l,j}: (a_{l-1}, 1)
            nb, b_l = lay.before(l), coefs[l - 1].shape[1]
            own = lay.layer(l)
            if l < L:  # activation term of hidden layer l
                c = curv[l]
                XX += np.einsum("cj,cja,cjb->cab", c, Jx, Jx)
                XT[:, :, own] += np.einsum("cj,cja,cb->cabj", c, Jx, at).reshape(n, d, -1)
                if nb:
                    cJt = c[:, :, None] * Jt
                    XT[:, :, :nb] += np.einsum("cja,cjq->caq", Jx, cJt)
                    TT_sym[:nb, :nb] += cJt.reshape(-1, nb).T @ Jt.reshape(-1, nb)
                    TT_cross[own, :nb] += np.einsum("cjq,cb->bjq", cJt, at).reshape(-1, nb)
                G = np.einsum("cj,ca,cb->jab", c, at, at)
                T4 = TT_sym[own, own].reshape(at.shape[1], b_l, at.shape[1], b_l)
                jj = np.arange(b_l)
                T4[:, jj, :, jj] += G
                TT_sym[own, own] = T4.reshape(TT_sym[own, own].shape)
            # product terms W_l[a, j] * a_{l-1, a}
            W_cols = lay.weights(l)  # the weights of layer l come first in its block
            nW = W_cols.stop - W_cols.start
            if l == 1:
                XT4 = XT[:, :, W_cols].reshape(n, d, -1, b_l)
                ar = np.arange(d)
                XT4[:, ar, ar, :] += sbar[1][:, None, :]
                XT[:, :, W_cols] = XT4.reshape(n, d, -1)
            else:
                a2, d1_prev = layers[l - 2][0], layers[l - 2][1]
                B = d1_prev[:, :, None] * sbar[l][:, None, :]  # (n, b_{l-1}, b_l)
                XT[:, :, W_cols] += np.einsum("caj,cax->cxaj", B, Jx_prev).reshape(n, d, -1)
                nb2 = lay.before(l - 1)
                if nb2:
                    TT_cross[W_cols, :nb2] += np.einsum("caj,caq->ajq", B, Jt_prev).reshape(
                        nW, nb2
                    )
                at2 = np.hstack([a2, ones])
                K = np.einsum("caj,cb->ajb", B, at2)  # (b_{l-1}, b_l, n_{l-2} + 1)
                prev = lay.layer(l - 1)
                b_prev = B.shape[1]
                T4 = TT_cross[W_cols, prev].reshape(b_prev, b_l, at2.shape[1], b_prev)
                aa = np.arange(b_prev)
                T4[aa, :, :, aa] += K
                TT_cross[W_cols, prev] = T4.reshape(nW, -1)
            if l < L:  # carry grad s forward to layer l + 1
                A = layers[l - 1][1][:, :, None] * coefs[l][None, :, :]  # sigma'_a W[a, j]
                Jx_prev, Jt_prev = Jx, Jt  # the product terms of layer l + 1 need these
                Jx = np.einsum("caj,cax->cjx", A, Jx)
                if l + 1 < L:  # only a hidden layer's activation term needs d s / d theta
                    own_part = np.einsum("caj,cb->cjba", A, at).reshape(n, A.shape[2], -1)
                    Jt = np.concatenate([np.einsum("caj,caq->cjq", A, Jt), own_part], axis=2)
        return XX, XT

    # ----------------------------------------------------------- iterations
    def intermediate(self, *args) -> bool:
        """IPOPT's per-iteration report, forwarded to ``on_iteration`` when set.

        With the adaptive shift, the regularization ``delta_w`` IPOPT needed for this
        iteration (``args[7]``) carries over to the next Hessian, decreasing: IPOPT's
        first trial (no regularization of its own) then usually has the right inertia,
        which saves a factorization per iteration where the Hessian is indefinite.
        """
        if self.adaptive_shift:
            shift = SHIFT_DECREASE * (self.shift + max(float(args[7]), 0.0))
            self.shift = shift if shift >= SHIFT_FLOOR else 0.0
        return True if self.on_iteration is None else self.on_iteration(*args)


class GreyBoxNLP(NumpyNLP):
    """The collocation NLP with known physics (``NLPData.physics``): rates
    ``F(x_c, p_s, g_theta(x_c, u_c))`` (``_greybox``), variables ``w = (x, theta, p_s)``.

    Derivatives chain the physics' dense per-point derivatives over ``z = (x_c, p_s, g)``
    (``GreyBox.jacobian``/``hessian``, exact, from SymPy) with the network's: with
    ``Gx = dg/dx_c`` and ``Gt = dg/dtheta`` (dense, per point) and ``H`` the Hessian of
    ``sum_i v_i F_i`` over ``z`` (``v = -h_c lambda_c``),

    - Jacobian: ``dF/dx = F_x + F_g Gx``, ``dF/dtheta = F_g Gt``, ``dF/dp = F_p``;
    - Hessian: ``J_z^T H J_z`` with ``J_z = dz/d(x_c, theta, p_s)``, block by block
      (terms whose ``H`` block is structurally zero are skipped: an additive physics has
      none through ``g``), plus the network's own second derivatives with the output
      weights ``v_g = F_g^T v`` (``NumpyNLP._network_hessian``).

    The Hessian's structure: the x x part as in :class:`NumpyNLP`, then dense per-point
    ``x_c theta`` and ``x_c p`` blocks, and the dense ``theta theta``, ``p theta`` and
    ``p p`` triangles (summed over points).
    """

    def __init__(self, data: NLPData, rho: float = 0.0, center: np.ndarray | None = None):
        gb = data.physics
        self.gb = gb
        self.nf, self.n_out = gb.n_free, gb.n_network
        d = gb.n_states
        pattern = gb.local_hessian_pattern()
        x, p, g = slice(0, d), slice(d, d + gb.n_free), slice(d + gb.n_free, None)
        self._has = {"xg": pattern[x, g].any(), "gg": pattern[g, g].any(),
                     "pg": pattern[p, g].any()}  # fmt: skip
        jac = gb.local_jacobian_pattern()
        self._rows_net = jac[:, g].any(axis=1)  # rates that read the network
        self._rows_p = jac[:, p].any(axis=1)  # rates that read a fitted parameter
        self._read = gb.state_inputs()  # the states the network reads, in input order
        self._local_key = None
        super().__init__(data, rho, center)
        self.pen_diag = self.pen_diag.astype(float)
        self.pen_diag[self.n_net :] = 2.0 * data.param_alpha

    def _inputs(self, states: np.ndarray) -> np.ndarray:
        return self.gb.select_inputs(super()._inputs(states))

    def bounds(self):
        lo, hi = super().bounds()
        first = self.nx + self.n_net
        lo[first:] = np.maximum(self.gb.lower, -_INF)
        hi[first:] = np.minimum(self.gb.upper, _INF)
        return lo, hi

    def objective(self, w: np.ndarray) -> float:
        value = super().objective(w)
        if self.data.param_alpha:
            ps = w[self.nx + self.n_net :]
            value += self.data.param_alpha * float(ps @ ps)
        return value

    # --------------------------------------------------------------- evaluation
    def _forward(self, w: np.ndarray):
        """(coefs, layers, F, g) at every point, cached on ``w``."""
        key = w.tobytes()
        if key != self._cache_key:
            states, theta = self.split(w)
            net, ps = theta[: self.n_net], theta[self.n_net :]
            coefs, layers, g = [], [], np.zeros((self.n_colloc, 0))
            if self.n_out:
                coefs, layers, g = self._network(states, net)
            F = self.gb.rates(states[self.cnode], self.u_c, ps, g)
            self._cache_key, self._cache = key, (coefs, layers, F, g, ps)
        return self._cache

    def constraints(self, w: np.ndarray) -> np.ndarray:
        states, _ = self.split(w)
        F = self._forward(w)[2]
        colloc = self.C @ states - self.h[:, None] * F
        return np.concatenate(
            [colloc.ravel(), (self.E @ states).ravel(), latent_residuals(self.data, states)]
        )

    def _network_jacobian(self, coefs, layers):
        """``Gx`` (n_colloc, n_out, d) and dense ``Gt`` (n_colloc, n_out, n_net)."""
        d, nc, L, k = self.d, self.n_colloc, len(coefs), self.n_out
        delta = np.broadcast_to(np.eye(k), (nc, k, k))
        Gt = np.zeros((nc, k, self.n_net))
        lay = self.layout
        for l in range(L - 1, 0, -1):  # noqa: E741 - hidden layers L-1 .. 1
            a_prev, d1, _ = layers[l - 1]
            delta = (delta @ coefs[l].T) * d1[:, None, :]
            dW = delta[:, :, None, :] * a_prev[:, None, :, None]
            own = lay.layer(l)
            Gt[:, :, own] = np.concatenate([dW.reshape(nc, k, -1), delta], axis=2)
        Gx = np.zeros((nc, k, d))
        Gx[:, :, self._read] = (delta @ coefs[0].T)[:, :, : len(self._read)]
        a_last = layers[-1][0]
        out = np.arange(k)
        Gt[:, out[:, None], lay.weight(L, np.arange(a_last.shape[1])[None, :], out[:, None])] = (
            a_last[:, None, :]
        )
        Gt[:, out, lay.bias(L, out)] = 1.0
        return Gx, Gt

    def _local(self, w: np.ndarray):
        """(coefs, layers, states at the points, ps, g, Gx, Gt, J): the network's first
        derivatives (None without a network) and the physics' ``dF/dz``, cached on ``w``
        (IPOPT asks for the Jacobian and the Hessian at the same point)."""
        key = w.tobytes()
        if key != self._local_key:
            coefs, layers, _, g, ps = self._forward(w)
            states = self.split(w)[0][self.cnode]
            Gx = Gt = None
            if self.n_out:
                Gx, Gt = self._network_jacobian(coefs, layers)
            J = self.gb.jacobian(states, self.u_c, ps, g)
            self._local_key, self._local_cache = key, (coefs, layers, states, ps, g, Gx, Gt, J)
        return self._local_cache

    # ----------------------------------------------------------------- Jacobian
    def _theta_jacobian_structure(self):
        """Rows reading the network: every network parameter; rows reading a fitted
        parameter: every fitted parameter (point-major, then rate, then column)."""
        d, nc = self.d, self.n_colloc
        mask = np.zeros((d, self.n_net + self.nf), dtype=bool)
        mask[self._rows_net, : self.n_net] = True
        mask[self._rows_p, self.n_net :] = True
        self._jt_mask = mask
        i, k = np.nonzero(mask)
        rows = (np.arange(nc)[:, None] * d + i[None, :]).ravel().astype(np.int32)
        cols = np.broadcast_to(self.nx + k, (nc, len(k))).ravel().astype(np.int32)
        return rows, cols

    def _rate_jacobian(self, w: np.ndarray):
        *_, Gx, Gt, J = self._local(w)
        d = self.d
        dFdx = J[:, :, :d]
        dFdp = J[:, :, d : d + self.nf]
        if self.n_out:
            Jg = J[:, :, d + self.nf :]
            dFdx = dFdx + Jg @ Gx
            full = np.concatenate([Jg @ Gt, dFdp], axis=2)
        else:
            full = dFdp
        theta_vals = (-self.h[:, None, None] * full)[:, self._jt_mask]
        return dFdx, theta_vals.ravel()

    # ------------------------------------------------------------------ Hessian
    def _theta_hessian_structure(self) -> None:
        d, nc, nx, P, nf = self.d, self.n_colloc, self.nx, self.n_net, self.nf
        cols = np.broadcast_to((self.cnode[:, None] * d + np.arange(d))[:, :, None], (nc, d, 1))
        parts_r, parts_c = [], []
        # x_c theta, then x_c p: per point, (rate-free) rows theta / p, columns x_c
        for first, n in ((nx, P), (nx + P, nf)):
            if n:
                parts_r.append(np.broadcast_to(first + np.arange(n), (nc, d, n)).ravel())
                parts_c.append(np.broadcast_to(cols, (nc, d, n)).ravel())
        tt_r, tt_c = np.tril_indices(P)
        pt_r, pt_c = np.divmod(np.arange(nf * P), P) if P else (np.zeros(0, int),) * 2
        pp_r, pp_c = np.tril_indices(nf)
        parts_r += [nx + tt_r, nx + P + pt_r, nx + P + pp_r]
        parts_c += [nx + tt_c, nx + pt_c, nx + P + pp_c]
        self._tt_idx, self._pp_idx = (tt_r, tt_c), (pp_r, pp_c)
        self._gb_pairs = (np.concatenate(parts_r), np.concatenate(parts_c))

    def _theta_hessian_pairs(self):
        return self._gb_pairs

    def _rates_hessian(self, w, lagrange, obj_factor):
        coefs, layers, states, ps, g, Gx, Gt, J_local = self._local(w)
        d, nc, P, nf = self.d, self.n_colloc, self.n_net, self.nf
        v = -self.h[:, None] * lagrange[: nc * d].reshape(nc, d)
        H = self.gb.hessian(states, self.u_c, ps, g, v)
        x, p, gg = slice(0, d), slice(d, d + nf), slice(d + nf, None)
        XX = H[:, x, x].copy()
        XP = H[:, x, p].copy()
        PP = H[:, p, p].sum(axis=0)
        PT = np.zeros((nf, P))
        XT = np.zeros((nc, d, P))
        TT = np.zeros((P, P))
        if self.n_out:
            J = J_local[:, :, gg]
            v_net = np.einsum("ci,cik->ck", v, J)
            r = self._read
            XXr, XTr, TT = self._network_hessian_blocks(coefs, layers, v_net, len(r))
            XX[:, r[:, None], r[None, :]] += XXr
            XT[:, r, :] = XTr
            Hxg, Hgg, Hpg = H[:, x, gg], H[:, gg, gg], H[:, p, gg]
            B = np.zeros((nc, d, self.n_out))
            if self._has["xg"]:
                S = np.einsum("cxl,cly->cxy", Hxg, Gx)
                XX += S + S.transpose(0, 2, 1)
                B += Hxg
            if self._has["gg"]:
                M = np.einsum("ckl,cly->cky", Hgg, Gx)
                XX += np.einsum("ckx,cky->cxy", Gx, M)
                B += np.einsum("ckx,ckl->cxl", Gx, Hgg)
                HG = np.einsum("ckl,clr->ckr", Hgg, Gt)
                TT += Gt.reshape(-1, P).T @ HG.reshape(-1, P)
            if self._has["xg"] or self._has["gg"]:
                XT += np.einsum("cxl,clr->cxr", B, Gt)
            if self._has["pg"]:
                XP += np.einsum("ckx,cqk->cxq", Gx, Hpg)
                PT += np.einsum("cqk,ckr->qr", Hpg, Gt)
        diag = obj_factor * (self.pen_diag + self.rho) + self.shift
        TT[np.diag_indices(P)] += diag[:P]
        PP[np.diag_indices(nf)] += diag[P:]
        vals = [XT.ravel(), XP.ravel(), TT[self._tt_idx], PT.ravel(), PP[self._pp_idx]]
        return XX, np.concatenate(vals)


class FixedThetaNLP:
    """The NLP of ``data`` over the states alone, the network fixed at ``data.theta0``
    (e.g. to estimate the initial state of a new trajectory with a fitted model).

    The same callbacks as :class:`NumpyNLP`, restricted to the state columns: the full
    problem evaluates, this view drops the network's columns.
    """

    def __init__(self, data: NLPData):
        self.full = nlp_class(data)(data)
        self.data = data
        self.nx = self.n = self.full.nx
        self.m = self.full.m
        self.theta = np.asarray(data.theta0, dtype=float)
        rows, cols = self.full.jacobianstructure()
        self._jkeep = cols < self.nx
        self._jstruct = (rows[self._jkeep], cols[self._jkeep])
        rows, cols = self.full.hessianstructure()
        self._hkeep = (rows < self.nx) & (cols < self.nx)
        self._hstruct = (rows[self._hkeep], cols[self._hkeep])
        self.on_iteration = None
        self.eval_time = float("nan")

    def _w(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, self.theta])

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.reshape(self.full.n_nodes, self.full.d), self.theta

    def join(self, theta: np.ndarray, states: np.ndarray) -> np.ndarray:
        return np.ravel(states).astype(float)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.full.bounds()
        return lo[: self.nx], hi[: self.nx]

    def objective(self, x):
        return self.full.objective(self._w(x))

    def gradient(self, x):
        return self.full.gradient(self._w(x))[: self.nx]

    def constraints(self, x):
        return self.full.constraints(self._w(x))

    def jacobianstructure(self):
        return self._jstruct

    def jacobian(self, x):
        return self.full.jacobian(self._w(x))[self._jkeep]

    def hessianstructure(self):
        return self._hstruct

    def hessian(self, x, lagrange, obj_factor):
        return self.full.hessian(self._w(x), lagrange, obj_factor)[self._hkeep]

    def intermediate(self, *args) -> bool:
        return True if self.on_iteration is None else self.on_iteration(*args)


def nlp_class(data: NLPData) -> type:
    """:class:`GreyBoxNLP` for a model with known physics, else :class:`NumpyNLP`."""
    return NumpyNLP if data.physics is None else GreyBoxNLP


#: Which driver hands the callbacks to IPOPT: "auto" (IPOPT's C interface through
#: ctypes when :func:`skneuralode._ipopt_c.ipopt_library` finds the library, else
#: ``cyipopt.Problem``), "ctypes" or "cyipopt". Both run the same IPOPT on the same
#: callbacks and take the same iterates; the ctypes driver copies each Jacobian and
#: Hessian with one memmove where cyipopt copies element by element in Python.
DRIVER = "auto"


def problem_class():
    """The class :func:`solve_numpy` builds its IPOPT problem with (see ``DRIVER``)."""
    from .. import _ipopt_c
    from .._openblas import import_cyipopt

    cyipopt = import_cyipopt()
    if DRIVER == "cyipopt":
        return cyipopt.Problem
    if _ipopt_c.ipopt_library() is not None:
        return _ipopt_c.Problem
    if DRIVER == "ctypes":
        raise RuntimeError("IPOPT's C library was not found next to cyipopt")
    return cyipopt.Problem


class _DeadlineReached(Exception):
    """Raised by an evaluation callback asked for after the fit's ``max_time``."""


class _Timed:
    """Forwards IPOPT's callbacks to an NLP and adds up the time spent evaluating it.

    With a ``deadline`` (a ``time.perf_counter()`` value), an evaluation asked for after
    it raises :class:`_DeadlineReached` instead (``expired`` becomes True): IPOPT stops
    at once rather than at the start of its next iteration, which on a large problem can
    be many seconds later. IPOPT's linear solves (MUMPS) are not callbacks and cannot be
    cut short.
    """

    _EVALUATIONS = ("objective", "gradient", "constraints", "jacobian", "hessian")

    def __init__(self, nlp, deadline: float | None = None):
        self.nlp = nlp
        self.seconds = 0.0
        self.deadline = deadline
        self.expired = False
        for name in self._EVALUATIONS:
            setattr(self, name, self._timed(getattr(nlp, name)))
        self.jacobianstructure = nlp.jacobianstructure
        self.hessianstructure = nlp.hessianstructure
        self.intermediate = nlp.intermediate

    def _timed(self, method):
        def call(*args):
            start = time.perf_counter()
            if self.deadline is not None and start > self.deadline:
                self.expired = True
                raise _DeadlineReached
            try:
                return method(*args)
            finally:
                self.seconds += time.perf_counter() - start

        return call


def solve_numpy(nlp: NumpyNLP, options: dict, record: bool = False, progress=None, deadline=None):
    """Run IPOPT on ``nlp`` from ``data.theta0``/``data.states0`` (the driver from
    :func:`problem_class`).

    Returns ``(status code, message, x, log, iterates)``: IPOPT's return status, its
    message, the final iterate, per-iteration ``(obj, inf_pr, inf_du)`` and, when
    ``record``, ``(time.perf_counter(), theta)`` at every iteration; the seconds spent in
    the NLP's evaluation callbacks are left in ``nlp.eval_time``. Ctrl-C while IPOPT
    runs stops it at its next iteration (``_interrupt``), and so does ``progress``
    (``_progress.Progress``, given every iteration's report) when it answers ``False``.
    An evaluation asked for after ``deadline`` (``time.perf_counter()``) stops IPOPT and
    returns status -4 (maximum wall time) with the last accepted iterate (``_Timed``).
    With a deadline, IPOPT runs in a child process (``_child``) that is stopped if it is
    still running shortly after the deadline (in a factorization, which takes no
    callback): the same status and iterate, on time.
    IPOPT reads no options file unless ``options`` names one (``option_file_name``).
    Option and evaluation errors propagate (the caller turns them into ``SolverError``).
    """
    from .. import _child
    from .._interrupt import SolveInterrupt

    interrupt = SolveInterrupt()
    bounds = nlp.bounds()
    start = np.clip(nlp.join(nlp.data.theta0, nlp.data.states0), *bounds)
    pick = (lambda x: x[nlp.nx :].copy()) if record else None
    iterations = IterationLog(start, progress, interrupt, pick)
    keep_x = record or deadline is not None  # the last iterate, kept at the deadline

    def work(report) -> tuple:
        return _run_ipopt(nlp, options, bounds, start, deadline, keep_x, report)

    with interrupt:
        try:
            code, message, x, nlp.eval_time = _child.run(work, iterations, deadline, interrupt)
        except _child.Killed as killed:  # in a factorization at the deadline, or Ctrl-C twice
            nlp.eval_time = killed.eval_time
            code, message, x = -4, _child.KILLED_MESSAGE, None
    if code == -4 and x is None:  # stopped at the deadline
        x = iterations.last
    return code, message, x, iterations.log, iterations.iterates


def _run_ipopt(nlp, options, bounds, start, deadline, keep_x, report) -> tuple:
    """IPOPT on ``nlp`` from ``start``: ``(status code, message, x, seconds evaluating)``,
    ``x`` None when an evaluation past ``deadline`` stopped it. ``report(args, x,
    seconds)`` at every iteration (``x`` the current iterate when ``keep_x``) answers
    whether IPOPT goes on."""
    lo, hi = bounds
    zeros = np.zeros(nlp.m)
    timed = _Timed(nlp, deadline)
    problem = problem_class()(n=nlp.n, m=nlp.m, problem_obj=timed, lb=lo, ub=hi, cl=zeros,
                              cu=zeros)  # fmt: skip

    def hook(*args) -> bool:
        x_now = (
            np.array(problem.get_current_iterate(scaled=False)["x"], dtype=float)
            if keep_x
            else None
        )
        return report(args, x_now, timed.seconds) and not timed.expired

    nlp.on_iteration = hook
    try:
        for key, value in {"option_file_name": "", **options}.items():
            problem.add_option(key, value)
        try:
            x, info = problem.solve(start)
        except _DeadlineReached:
            pass
    finally:
        nlp.on_iteration = None
        problem.close()
    if timed.expired:
        message = "Maximum wall time exceeded (max_time reached during an evaluation)."
        return -4, message, None, timed.seconds
    message = info["status_msg"]
    message = message.decode() if isinstance(message, bytes) else str(message)
    return int(info["status"]), message, x, timed.seconds


# ------------------------------------------------------- the engine interface
# (see ``skneuralode._engines``)


def _probe_cyipopt() -> tuple[bool, str]:
    from .. import _ipopt_c
    from .._openblas import import_cyipopt, openblas_report

    try:
        cyipopt = import_cyipopt()
    except ImportError:
        return False, (
            "Python package `cyipopt` (pip install cyipopt-wheels==1.7.0.dev0): not installed"
        )
    version = ".".join(str(v) for v in getattr(cyipopt, "IPOPT_VERSION", ()))
    lib = _ipopt_c.ipopt_library()
    driver = (
        f"the numpy engine calls IPOPT's C interface in {lib._name}"
        if lib is not None
        else "the numpy engine uses cyipopt.Problem (IPOPT's C library not found)"
    )
    return True, (
        f"cyipopt {cyipopt.__version__} (IPOPT {version}); {driver}; {openblas_report()}"
    )


PROBES = {"numpy": _probe_cyipopt}


def candidates(solver: str) -> list[str]:
    if solver != "auto":
        raise ValueError(
            f"engine='numpy' drives IPOPT itself (its C interface, or the cyipopt package); "
            f"solver={solver!r} is a route of the pyomo engine. Use solver='auto' or "
            "engine='pyomo'."
        )
    return ["numpy"]


def route(key: str) -> str:
    """The driver :func:`solve_numpy` will use: ``"ctypes"`` or ``"cyipopt"``."""
    from .. import _ipopt_c

    return "ctypes" if problem_class() is _ipopt_c.Problem else "cyipopt"


def records_iterates(route: str) -> bool:
    return True


def solve(data: NLPData, route: str, options: dict, *, tee=False, record=False, rho=0.0,
          center=None, deadline=None, progress=None) -> SolveResult:  # fmt: skip
    """Solve ``data``; a failure with the adaptive Hessian shift is solved again from the
    same start with IPOPT's own rule (``RETRY_WITH_IPOPT_RULE``). IPOPT's log goes to
    stdout through ``options["print_level"]`` (``tee`` is the pyomo engine's switch)."""
    result = _solve_once(data, options, record, rho, center, deadline, progress)
    if data.hessian_regularization != "adaptive" or result.status not in RETRY_WITH_IPOPT_RULE:
        return result
    if deadline is not None and time.perf_counter() > deadline:
        return result  # no time left to solve again
    if progress is not None:
        progress.note(
            f"IPOPT ended with status {result.status!r} under the adaptive Hessian shift; "
            "solving again from the start with IPOPT's own rule."
        )
    retry = _solve_once(
        replace(data, hessian_regularization="ipopt"), options, record, rho, center, deadline,
        progress, retry=True,
    )  # fmt: skip
    retry.message = (
        f"{retry.message} (solved again with IPOPT's own Hessian regularization after the "
        f"adaptive shift ended with status {result.status!r} in {result.n_iter} iterations)"
    )
    retry.solve_time += result.solve_time
    retry.build_time += result.build_time
    retry.eval_time += result.eval_time
    return retry


def _solve_once(
    data, options, record, rho, center, deadline, progress=None, retry=False
) -> SolveResult:
    start = time.perf_counter()
    nlp = FixedThetaNLP(data) if data.fixed_theta else nlp_class(data)(data, rho, center)
    build_time = time.perf_counter() - start
    if not retry:
        check_deadline(deadline, "building the engine's structures")
    start = time.perf_counter()
    driver = route("numpy")
    try:
        code, message, x, log, iterates = solve_numpy(
            nlp, time_limited(options, deadline), record, progress, deadline
        )
    except KeyboardInterrupt:
        raise
    except MemoryError as exc:  # beyond _limits' estimate: the machine's memory was used
        raise SolverError(
            f"IPOPT ({driver}) ran out of memory in the numpy engine's evaluations ({exc}): "
            "reduce `width`, `depth`, `n_elements` or `degree`, or fit with ADMMNeuralODE, "
            "which solves the data in batches."
        ) from exc
    except Exception as exc:  # unknown options, evaluation errors, crashes
        raise SolverError(f"IPOPT ({driver}) crashed: {exc}") from exc
    states, theta = nlp.split(x)
    return SolveResult(
        solver=driver,
        status=IPOPT_STATUS.get(code, "error"),
        message=message,
        n_iter=max(len(log) - 1, 0),
        solve_time=time.perf_counter() - start,
        iterations=log,
        iterates=iterates,
        engine="numpy",
        theta=theta.copy(),
        states=states.copy(),
        n_variables=nlp.n,
        n_constraints=nlp.m,
        build_time=build_time,
        eval_time=nlp.eval_time,
    )


def solve_batch(task) -> BatchResult:
    """An ADMM sub-problem, solved from the batch's data (carried by the task or held by
    this process, ``_resident``) and the task's iterate; nothing else is cached: the
    sparsity structures take milliseconds. ``missing`` if the data are not at hand."""
    data = task_data(task)
    if data is None:
        return BatchResult(None, 0.0, False, missing=True)
    data = replace(data, theta0=task.theta, states0=task.states)
    result = solve(data, task.solver, task.options, rho=task.rho, center=task.center)
    return BatchResult(result, result.build_time, False)
