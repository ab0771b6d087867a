import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A registered user. Passed to tasks as is: the entity codec sends its key and the worker loads the committed row. */
@Entity('users')
export class User {
  @PrimaryGeneratedColumn('increment')
  id!: number;

  @Column('varchar', { length: 200, unique: true })
  email!: string;

  @Column('varchar', { length: 100 })
  name!: string;

  @CreateDateColumn()
  createdAt!: Date;
}
