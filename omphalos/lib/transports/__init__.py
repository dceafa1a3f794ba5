"""What the network transports (zmq, amqp, udp) share."""
