import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A registered user. Passed to tasks as is: the entity codec sends its key and the worker loads the committed row. */
@Entity('users')
export class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 200, unique: true })
  email!: string;

  /** Set by the welcome task, in its own transaction. */
  @Column({ type: 'varchar', length: 40, nullable: true })
  welcomedAt!: string | null;
}
