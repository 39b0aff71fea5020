package enum JesterConfigPlaceholder {}
