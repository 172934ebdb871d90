"""Activations ``sigma`` with their derivatives, Hermite coefficients and NT kernel functions.

:class:`Activation` is the one object the rest of the package asks for
``sigma``, ``sigma'``, ``mu_j``, ``h``, ``H`` and ``g``; built-in activations with
closed forms carry them as data (:class:`ClosedForm`), the others are computed
by quadrature and power series.
"""

from ntphase.activations.activation import ACTIVATIONS, Activation, ClosedForm, get_activation

__all__ = ["ACTIVATIONS", "Activation", "ClosedForm", "get_activation"]
