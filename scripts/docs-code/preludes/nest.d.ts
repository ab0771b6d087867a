// Blocks about NestJS: its decorators and @taskq/nest's, as a reader imports them.
declare const Module: typeof import('@nestjs/common').Module;
declare const Injectable: typeof import('@nestjs/common').Injectable;
declare const TaskqModule: typeof import('@taskq/nest').TaskqModule;
declare const Task: typeof import('@taskq/nest').Task;
declare const InjectQueue: typeof import('@taskq/nest').InjectQueue;
type TaskQueue = import('@taskq/core').TaskQueue;
declare const Inject: typeof import('@nestjs/common').Inject;
declare const Controller: typeof import('@nestjs/common').Controller;
declare const Post: typeof import('@nestjs/common').Post;
declare const Body: typeof import('@nestjs/common').Body;
declare const Scope: typeof import('@nestjs/common').Scope;
declare const InternalServerErrorException: typeof import('@nestjs/common').InternalServerErrorException;
declare const REQUEST: typeof import('@nestjs/core').REQUEST;
declare const NestFactory: typeof import('@nestjs/core').NestFactory;
declare const Accepted: typeof import('@taskq/nest').Accepted;
declare const RequestUrls: typeof import('@taskq/nest').RequestUrls;
declare const OnTaskEvent: typeof import('@taskq/nest').OnTaskEvent;
type TaskqMiddleware = import('@taskq/nest').TaskqMiddleware;
declare const TaskRequest: typeof import('@taskq/core').TaskRequest;
type TaskRequest = import('@taskq/core').TaskRequest;
type UrlHelpers = import('@taskq/core').UrlHelpers;
type TaskContext = import('@taskq/core').TaskContext;
type CurrentTask = import('@taskq/core').CurrentTask;
type FailedEvent = import('@taskq/core').FailedEvent;
type CompletedEvent = import('@taskq/core').CompletedEvent;
type Repository<T extends import('typeorm').ObjectLiteral> = import('typeorm').Repository<T>;

// @nestjs/config and @nestjs/typeorm are not dependencies of this repository: the shapes the docs use.
declare class ConfigService {
  get<T = string>(key: string): T;
  getOrThrow<T = string>(key: string): T;
}
declare class ConfigModule {
  static forRoot(options?: object): import('@nestjs/common').DynamicModule;
}
declare const TypeOrmModule: {
  forRoot(options?: object): import('@nestjs/common').DynamicModule;
  forRootAsync(options: object): import('@nestjs/common').DynamicModule;
  forFeature(entities: unknown[]): import('@nestjs/common').DynamicModule;
};

// The application's own modules, providers and helpers the Nest examples name.
declare class MailModule {}
declare class UsersModule {}
declare class WorkerModule {
  static forRoot(config: TaskqConfig): import('@nestjs/common').DynamicModule;
}
declare class Mailer {
  send(to: string, subject: string, link?: string): Promise<string>;
}
declare class MailTasks {
  sendWelcome(user: User, request?: UrlHelpers): Promise<string>;
  sendReminder(user: User): Promise<void>;
}
declare class EmailTasks {
  send(to: string, subject: string): Promise<string>;
}
declare class TaskLogging {
  use(ctx: TaskContext, next: () => Promise<void>): Promise<void>;
}
declare class AppLogger {
  info(message: string): void;
  log(message: string): void;
  error(message: string, error?: unknown): void;
}
interface NewUser {
  email: string;
  name: string;
}
declare class TaskqConfig {
  url: string;
  prefix: string;
  createTaskqOptions(): import('@taskq/nest').TaskqModuleOptions;
}
declare function readConfig(): TaskqConfig;
declare function canSeeTask(request: unknown, status: import('@taskq/core').TaskStatus): boolean;
declare function somethingWentWrong(): boolean;
declare class Pager {
  alert(message: string, error?: unknown): void;
}
declare class Metrics {
  observe(name: string, value: number): void;
}
declare class UsersService {
  save(user: NewUser): Promise<User>;
}
declare const DataSource: typeof import('typeorm').DataSource;
declare const InjectTransactionalRepository: typeof import('@taskq/nest/typeorm').InjectTransactionalRepository;
declare const TaskqTypeormModule: typeof import('@taskq/nest/typeorm').TaskqTypeormModule;
