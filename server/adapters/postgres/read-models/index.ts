export {
  generationTableName,
  PostgresReadModelStore,
  templateTableName,
  type ReadModelTableFactories,
  type ReadModelTableFactory,
} from "./postgres-read-model-store";
