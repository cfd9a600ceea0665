"""The live core every area shares: effects recorded in a transaction and published after its
commit (`effects`, `unit`), and the process's typed `Runtime` (`runtime`)."""
