"""How orders get delivered: a small interface and its implementations (simulated, manual)."""
