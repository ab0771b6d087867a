// Blocks about NestJS: its decorators and @taskq/nest's, as a reader imports them.
declare const Module: typeof import('@nestjs/common').Module;
declare const Injectable: typeof import('@nestjs/common').Injectable;
declare const TaskqModule: typeof import('@taskq/nest').TaskqModule;
declare const Task: typeof import('@taskq/nest').Task;
declare const InjectQueue: typeof import('@taskq/nest').InjectQueue;
type TaskQueue = import('@taskq/core').TaskQueue;
