package enum JesterGatewayPlaceholder {}
