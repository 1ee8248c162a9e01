import { Module } from '@nestjs/common';
import { FeatureCatalog } from './feature-catalog';

/** The features bots can choose from: built in, and loaded from FEATURE_MODULES at start. */
@Module({ providers: [FeatureCatalog], exports: [FeatureCatalog] })
export class FeaturesModule {}
