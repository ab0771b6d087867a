import { describeTransportBehaviour } from './behaviour/transport-suite.js';
import { deleteQueues, testAmqp, uniqueQueue } from './support/rabbit.js';

// Against the real RabbitMQ on 127.0.0.1:5672: if it is not there, these tests fail (never skip).
describeTransportBehaviour('amqp', {
  make: () => testAmqp(),
  queueName: (label) => uniqueQueue(label),
  cleanup: (queues) => deleteQueues(queues),
});
