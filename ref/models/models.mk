# SPDX-License-Identifier: GPL-2.0
#
# ref/models/: spin (Promela) models of the lockless protocols.
# run-models checks every model with spin and compares each verdict with
# the expected one (the seed 000 counterexample, the lock-bit and the
# invalidation-retry proofs, and the deliberately broken variants).
