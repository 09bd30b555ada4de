"""Who, where and when: provinces, holders, service points, arrivals, transactions."""
