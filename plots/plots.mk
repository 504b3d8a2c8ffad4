CHECK_PROGS += plots/tests/plot_test
